"Checks for the chapters' exercises (checks.py) and worked solutions (solutions.py)."
