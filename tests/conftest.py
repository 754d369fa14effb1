"""Shared fixtures: the offline tiny Shakespeare file and its prepared dataset, and running the installed console scripts."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent  # the venv's bin: where pip put nanogpt-prepare & co.

if os.environ.get("PYTEST_XDIST_WORKER"):  # `pytest -n N` (scripts/test.sh): N workers share the cores, so each
    # worker, and the commands it starts, get their share of the threads instead of all of them each (oversubscribed
    # torch threads spin and wait on each other). Results do not depend on it: runs compared in a test share one setting.
    import torch
    _share = max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    torch.set_num_threads(_share)
    os.environ["OMP_NUM_THREADS"] = str(_share)


# The slowest tests first, so that the two workers finish together (pytest-xdist hands tests out in this order under
# `--dist loadgroup --no-loadscope-reorder`, scripts/test.sh): the chapters (test_notebooks.py) and the slowest tests,
# from the durations pytest lists at the end of a run, then the other chapters, then the rest in file order. A name
# here is a chapter, a test file or a test function; a stale entry costs only balance, never a result.
SLOWEST_FIRST = ["14_bench", "10_train", "03_generate", "13_playground", "12_sample", "test_playground_browser.py",
                 "02_model", "11_speedrun", "test_files_where_folders_should_be_and_missing_hellaswag_files",
                 "test_compiled_ddp_equals_compiled_single_process", "test_fsdp_stop_and_resume_is_exact",
                 "test_shard_loader_resumes_exactly_and_two_ranks_read_what_one_does",
                 "test_compiled_fsdp_with_activation_checkpointing",
                 "test_compiled_decode_equals_eager_inside_and_beyond_the_context", "test_resume_across_layouts",
                 "test_sample_cli_bad_input", "test_ctrl_c_saves_and_resumes_exactly", "08_parallel", "01_data"]


def pytest_collection_modifyitems(items):
    def rank(item):
        for i, key in enumerate(SLOWEST_FIRST):
            if f"[{key}" in item.nodeid or f"/{key}::" in item.nodeid or f"::{key}" in item.nodeid:
                return i
        return len(SLOWEST_FIRST) + ("test_notebooks.py" not in item.nodeid)  # other chapters before other tests
    items.sort(key=rank)  # stable: file order within a rank


@pytest.fixture(scope="session")
def shakespeare_input() -> Path:
    "tiny Shakespeare's input.txt, from $NANOGPT_SHAKESPEARE (scripts/test.sh sets it from ../shared/data)."
    path = os.environ.get("NANOGPT_SHAKESPEARE")
    if not path or not Path(path).is_file():
        pytest.skip("tiny Shakespeare is not available offline: set NANOGPT_SHAKESPEARE=path/to/input.txt")
    return Path(path)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory, shakespeare_input) -> Path:
    "A prepared shakespeare_char dataset (data_dir/shakespeare_char), shared by the tests that only read it."
    from nanogpt.corpus import prepare
    d = tmp_path_factory.mktemp("data")
    prepare("shakespeare_char", d, input=shakespeare_input)
    return d


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory, shakespeare_input):
    "A tiny character model (2 layers, 32 wide, 60 iterations) trained with the real CLI."
    root = tmp_path_factory.mktemp("runs")
    run_cli("nanogpt-train", "train_shakespeare_char_cpu", f"--out_dir={root / 'out-tiny'}", f"--data_dir={root / 'data'}",
            "--n_layer=2", "--n_head=2", "--n_embd=32", "--max_iters=60", "--eval_interval=60", "--eval_iters=2",
            "--log_interval=20", "--always_save_checkpoint=True", cwd=root,
            env={"NANOGPT_SHAKESPEARE": str(shakespeare_input)}, check=0)
    return root / "out-tiny"


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory):
    "A tiny random GPT-2 saved by transformers itself, with GPT-2's whole vocabulary: stands in for the hub's offline."
    transformers = pytest.importorskip("transformers")
    import torch
    d = tmp_path_factory.mktemp("hf")
    torch.manual_seed(0)
    transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=2, n_head=2, n_embd=32, n_positions=64)).save_pretrained(d)
    return d

def tiny(out, data_dir, **kw):
    "A 2-layer, 32-wide model on shakespeare_char: a few ms per iteration."
    settings = dict(out_dir=out, data_dir=data_dir, n_layer=2, n_head=2, n_embd=32, block_size=32, batch_size=4,
                    eval_iters=2, eval_interval=1000, log_interval=1, dtype="float32", warmup_iters=5, lr_decay_iters=100)
    settings.update(kw)
    return ["train_shakespeare_char_cpu", *(f"--{k}={v}" for k, v in settings.items())]


def losses(out):
    "iteration -> logged training loss, from the run's log.jsonl (JSON floats round-trip exactly)."
    rows = [json.loads(l) for l in open(Path(out) / "log.jsonl")]
    return {r["iter"]: r["loss"] for r in rows if "loss" in r}


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

def each_gives_one_line(results, total: int, unchanged_means: str):
    "Check a table of bad-input cases, `(name, proc, fragments, unchanged)` each: exit 1, one clear line, files unchanged."
    failures = []
    for name, proc, fragments, unchanged in results:
        try:
            assert proc.returncode == 1, f"exit status {proc.returncode}"
            one_line_error(proc, *fragments)
            assert unchanged, unchanged_means
        except AssertionError as e:
            failures.append(f"{name}: {e}\n{proc.stderr[-800:]}")
    assert not failures, f"{len(failures)} of {total} cases failed:\n\n" + "\n\n".join(failures)
