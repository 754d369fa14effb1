#!/usr/bin/env bash
# The project's test command (README: "Running the tests"). Runs, in order, and stops at the first failure:
#   1. the sync gate: nbdev_clean and nbdev_export change nothing, README.md matches nbs/index.ipynb,
#      and every module in nanogpt/ is exported by some notebook;
#   2. every notebook in nbs/ run top to bottom in a fresh Jupyter kernel, as JupyterLab's Run All does (all cells,
#      one notebook at a time: each uses both cores), with the time each took;
#   3. pytest over tests/, in 2 worker processes (pytest-xdist): many tests wait on a command they started (its
#      start-up, a server, a browser), which one process at a time leaves a core idle for; the slowest are listed last.
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

step "1/3 sync gate: notebooks, package and README agree"
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

step "2/3 every notebook, top to bottom, in a Jupyter kernel (Run All)"
python scripts/run_notebooks.py

step "3/3 pytest"
# exit status 5 (nothing collected) fails this script like any other failure
python -c "import xdist" 2>/dev/null || { echo "FAIL: pytest-xdist is missing: run bash scripts/setup.sh --dev (make test does)" >&2; exit 1; }
# --dist loadfile: each test file runs whole on one worker, in file order (the browser tests share one page, and
# a file's module fixtures are made once)
python -m pytest tests -n 2 --dist loadfile --durations=10 "$@"
