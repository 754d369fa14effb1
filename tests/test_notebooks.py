"""Every chapter run top to bottom in a fresh Jupyter kernel, as JupyterLab's Run All does (scripts/run_notebooks.py's
`run_all`): a chapter is done when a learner's Run All works, and `nbdev_test` skips cells that a kernel runs.

Each notebook is one test, so pytest-xdist spreads the chapters over its workers with the other tests (the slowest
first: see `pytest_collection_modifyitems` in conftest.py). A kernel started by a worker inherits the worker's share
of the threads (OMP_NUM_THREADS), like every command the tests start."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "scripts" / "run_notebooks.py")
run_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_notebooks)

NOTEBOOKS = sorted(p.name for p in (ROOT / "nbs").glob("*.ipynb"))


def test_every_chapter_is_here():
    assert len(NOTEBOOKS) >= 17 and "index.ipynb" in NOTEBOOKS, NOTEBOOKS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_run_all(name):
    from nbclient.exceptions import CellExecutionError
    try:
        run_notebooks.run_all(ROOT / "nbs" / name)
    except CellExecutionError as e:  # the failing cell's source and traceback, without pytest's frames around them
        pytest.fail(f"{name} stopped at a cell:\n{e}", pytrace=False)
