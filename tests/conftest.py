"""Shared fixtures: the offline tiny Shakespeare file, and running the installed console scripts."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent  # the venv's bin: where pip put nanogpt-prepare & co.


@pytest.fixture(scope="session")
def shakespeare_input() -> Path:
    "tiny Shakespeare's input.txt, from $NANOGPT_SHAKESPEARE (scripts/test.sh sets it from ../shared/data)."
    path = os.environ.get("NANOGPT_SHAKESPEARE")
    if not path or not Path(path).is_file():
        pytest.skip("tiny Shakespeare is not available offline: set NANOGPT_SHAKESPEARE=path/to/input.txt")
    return Path(path)


def run_cli(cmd, *args, cwd, env=None, timeout=600, check=None):
    "Run an installed console script in a subprocess; returns CompletedProcess with text output."
    full_env = {**os.environ, **(env or {})}
    full_env = {k: v for k, v in full_env.items() if v is not None}
    proc = subprocess.run([str(BIN / cmd), *map(str, args)], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check is not None:
        assert proc.returncode == check, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def one_line_error(proc, *fragments):
    "The process failed with exactly one `error: ...` line on stderr, containing every fragment."
    assert proc.returncode != 0, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    errors = [l for l in lines if l.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for f in fragments:
        assert f in errors[0], f"{f!r} not in {errors[0]!r}"
    return errors[0]
