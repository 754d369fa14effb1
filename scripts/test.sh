#!/usr/bin/env bash
# The project's test command (README: "Running the tests"). Runs, in order, and stops at the first failure:
#   1. the sync gate: nbdev_clean and nbdev_export change nothing, README.md matches nbs/index.ipynb,
#      and every module in nanogpt/ is exported by some notebook;
#   2. pytest over tests/, in 2 worker processes (pytest-xdist), one thread each: every notebook in nbs/ run top to
#      bottom in a fresh Jupyter kernel as JupyterLab's Run All does (tests/test_notebooks.py), and every other test.
#      The slowest start first (tests/conftest.py) and each test goes to whichever worker is free, so the two cores
#      stay busy to the end; the slowest are listed last.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k prepare -x`, or `-n 0` for one process).
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/offline.sh  # offline inputs from the shared data folder beside the repo, when there is one
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"  # tests never reach the hub; a stray download fails fast
export PYTHONUNBUFFERED=1

step() { printf '\n== %s ==\n' "$*"; }
snapshot() {  # everything git could see change: status, the diff, and untracked files' contents
  git status --porcelain --untracked-files=all
  git diff
  git ls-files --others --exclude-standard -z | xargs -0 -r sha256sum
}

step "1/2 sync gate: notebooks, package and README agree"
before=$(snapshot | sha256sum)
nbdev_clean
nbdev_export
python scripts/readme.py
after=$(snapshot | sha256sum)
if [ "$before" != "$after" ]; then
  echo "FAIL: nbdev_clean / nbdev_export / scripts/readme.py changed files:" >&2
  git status --short >&2
  echo "Run them, review and commit: notebooks are the source, nanogpt/ and README.md are generated." >&2
  exit 1
fi
python - <<'PY'
import json, pathlib, re, sys
exported = set()
for nb in pathlib.Path("nbs").glob("*.ipynb"):
    for cell in json.loads(nb.read_text())["cells"]:
        src = "".join(cell["source"])
        exported |= set(re.findall(r"^#\|[ \t]*default_exp[ \t]+(\S+)", src, re.M))
        exported |= set(re.findall(r"^#\|[ \t]*export[s]?[ \t]+(\S+)", src, re.M))
modules = {p.with_suffix("").relative_to("nanogpt").as_posix().replace("/", ".")
           for p in pathlib.Path("nanogpt").rglob("*.py")
           if p.name not in ("__init__.py", "_modidx.py") and "configs" not in p.parts}
orphans = sorted(modules - exported)
if orphans:
    sys.exit(f"FAIL: modules no notebook exports (delete them or restore their notebook): {', '.join(orphans)}")
if not exported:
    sys.exit("FAIL: no notebook exports a module")
print(f"ok: {len(modules)} modules, each exported by a notebook: {', '.join(sorted(modules))}")
PY

step "2/2 pytest: the chapters in Jupyter kernels, and the tests"
# exit status 5 (nothing collected) fails this script like any other failure
python -c "import xdist" 2>/dev/null || { echo "FAIL: pytest-xdist is missing: run bash scripts/setup.sh --dev (make test does)" >&2; exit 1; }
# pytest 9.2 silently stops --dist loadgroup from grouping (pytest-dev/pytest-xdist#1386): the browser tests, which share
# one page, would be dealt to both workers and fail on each other's state
python -c "import pytest, sys; sys.exit(tuple(map(int, pytest.__version__.split('.')[:2])) >= (9, 2))" ||
  { echo "FAIL: pytest $(python -c 'import pytest; print(pytest.__version__)') breaks pytest-xdist's --dist loadgroup: run bash scripts/setup.sh --dev (it installs pytest<9.2)" >&2; exit 1; }
# --dist loadgroup: a test goes to the first free worker, except a group (xdist_group: the browser tests, which share
# one page) that one worker runs whole; --no-loadscope-reorder keeps conftest.py's slowest-first order
python -m pytest tests -n 2 --dist loadgroup --no-loadscope-reorder --durations=15 "$@"
