"""Write README.md from nbs/index.ipynb (quarto, which nbdev_readme needs, is not installable everywhere).

Markdown cells are copied as they are; visible code cells become ```python blocks followed by their text
output. Cells marked `#| hide` are left out. `bash scripts/test.sh` runs this and fails if README.md changed,
so README.md always matches the notebook that is its source.
"""
import json
import pathlib
import re

root = pathlib.Path(__file__).resolve().parent.parent
nb = json.loads((root / "nbs" / "index.ipynb").read_text())
parts = ["<!-- Generated from nbs/index.ipynb by scripts/readme.py: edit the notebook, not this file. -->"]
for cell in nb["cells"]:
    src = "".join(cell["source"]).strip("\n")
    if cell["cell_type"] == "markdown":
        parts.append(src)
    elif cell["cell_type"] == "code" and not re.search(r"^#\|\s*hide\b", src, re.M):
        code = "\n".join(l for l in src.splitlines() if not l.startswith("#|"))
        parts.append(f"```python\n{code}\n```")
        text = "".join("".join(o.get("text", "")) or "".join(o.get("data", {}).get("text/plain", ""))
                       for o in cell.get("outputs", []))
        if text.strip():
            parts.append(f"```\n{text.rstrip()}\n```")
out = "\n\n".join(parts) + "\n"
readme = root / "README.md"
if not readme.exists() or readme.read_text() != out:
    readme.write_text(out)
    print("README.md written from nbs/index.ipynb")
