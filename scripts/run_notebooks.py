"""Run every notebook the way JupyterLab's Run All does: a fresh Jupyter kernel, every cell in order, in nbs/.

    python scripts/run_notebooks.py [NAME ...] [--write]

NAME picks notebooks by file name (e.g. 02_model); none means all. Each runs in its own kernel with nbs/ as the
working directory; the first cell that raises stops the run with the cell's source and the traceback, and the
script exits 1. A table of wall time, cells and code lines per notebook is printed at the end. --write saves the
fresh outputs into the notebooks (then run nbdev_clean), which is how the committed outputs are made.
The test suite runs the same `run_all` on each notebook (tests/test_notebooks.py).
"""
import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient

root = pathlib.Path(__file__).resolve().parent.parent
nbs = root / "nbs"


def run_all(path, write: bool = False):
    "Run notebook `path` top to bottom in a fresh kernel (raises nbclient's CellExecutionError at the first failing cell); the executed notebook."
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(nbs)}}).execute()
    if write:
        nbformat.write(nb, path)
    return nb


def main(argv):
    from nbclient.exceptions import CellExecutionError
    args = [a for a in argv if not a.startswith("--")]
    paths = sorted(p for p in nbs.glob("*.ipynb") if not args or any(p.stem.startswith(a) or p.name == a for a in args))
    if not paths:
        sys.exit(f"FAIL: no notebook matches {args}")
    rows = []
    for path in paths:
        t0 = time.perf_counter()
        try:
            nb = run_all(path, write="--write" in argv)
        except CellExecutionError as e:
            print(f"FAIL: {path.name} stopped after {time.perf_counter() - t0:.0f} s:\n{e}", file=sys.stderr)
            sys.exit(1)
        dt = time.perf_counter() - t0
        code = [c for c in nb.cells if c.cell_type == "code"]
        rows.append((path.name, dt, len(nb.cells), len(code), sum(len(c.source.splitlines()) for c in code)))
        print(f"ok: {path.name} ran top to bottom in a kernel in {dt:.0f} s", flush=True)
    print(f"\n{'notebook':24}{'seconds':>9}{'cells':>7}{'code cells':>12}{'code lines':>12}")
    for name, dt, cells, code_cells, lines in rows:
        print(f"{name:24}{dt:>9.0f}{cells:>7}{code_cells:>12}{lines:>12}")
    print(f"{'all':24}{sum(r[1] for r in rows):>9.0f}")


if __name__ == "__main__":
    main(sys.argv[1:])
