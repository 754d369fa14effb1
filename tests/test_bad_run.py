"""A run's own mistakes: settings a resume would ignore, settings that do nothing, a reference curve that does not
apply, wandb without a login, a step too big for the machine, HellaSwag that cannot be scored, a signal's exit status,
and under torchrun the first error shown rather than the others' broken connections. Also HellaSwag scored while
training, on one process and on two."""
import json
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN, each_gives_one_line, losses, run_cli, tiny
from nanogpt.checkpoint import load_checkpoint

# HellaSwag's format (ctx, four endings, the right one's index), in characters tiny Shakespeare has, so the
# character model can score it; 7 items: an odd count, which two ranks share unevenly
ITEMS = [{"ctx": ctx, "endings": endings, "label": label} for ctx, endings, label in [
    ("ROMEO:\nBut soft, what light through yonder window", ["breaks?", "cheese.", "the the the.", "eleven."], 0),
    ("JULIET:\nO Romeo, Romeo, wherefore art thou", ["Romeo?", "a fish?", "in the kitchen?", "no."], 0),
    ("KING RICHARD III:\nA horse, a horse, my kingdom for", ["a cup.", "a horse!", "nothing.", "soup."], 1),
    ("HAMLET:\nTo be, or not to be, that is the", ["fish.", "cat.", "question.", "door."], 2),
    ("First Citizen:\nBefore we proceed any further, hear", ["me speak.", "blue.", "a chair.", "seven apples."], 0),
    ("MACBETH:\nIs this a dagger which I see before", ["cheese?", "the moon?", "a boat?", "me?"], 3),
    ("LADY MACBETH:\nOut, damned spot! out, I", ["say!", "fish!", "run!", "eat!"], 0),
]]


@pytest.fixture(scope="module")
def items(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hellaswag") / "items.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for item in ITEMS))
    return path


@pytest.fixture(scope="module")
def base(tmp_path_factory, data_dir):
    "A finished tiny run at iteration 4 (ckpt.pt and state.pt), copied by the cases that resume it, never changed."
    root = tmp_path_factory.mktemp("bad_run")
    run_cli("nanogpt-train", *tiny(root / "run", data_dir, max_iters=4, eval_interval=4, always_save_checkpoint=True),
            cwd=root, check=0)
    return root / "run"


def hellaswag_rows(out) -> dict:
    rows = [json.loads(l) for l in open(Path(out) / "log.jsonl")]
    return {r["iter"]: (r["hellaswag_acc_norm"], r["hellaswag_acc"], r["hellaswag_items"]) for r in rows
            if "hellaswag_acc_norm" in r}


def test_hellaswag_while_training_one_process_and_two_ranks(tmp_path, data_dir, items):
    "acc_norm every 2 iterations and at the end, on the line and in log.jsonl; two ranks (4 items and 3) score as one."
    common = dict(max_iters=3, eval_interval=1000, gradient_accumulation_steps=2, device="cpu", eval_hellaswag_interval=2,
                  hellaswag=items, muon_lr=0.05)
    proc = run_cli("nanogpt-train", *tiny(tmp_path / "one", data_dir, **common), cwd=tmp_path, check=0)
    assert "hellaswag 2: acc_norm" in proc.stdout and "over 7 items" in proc.stdout
    assert "hellaswag  acc_norm best" in proc.stdout.split("run summary")[1]
    # said once each: muon_lr does nothing under AdamW; the recipe's reference curve was measured with other settings
    assert proc.stdout.count("note: muon_lr=0.05 applies to optimizer=muon only") == 1
    assert proc.stdout.count("not comparing with train_shakespeare_char_cpu's reference curve") == 1
    assert "n_layer=2 (recipe: 4)" in proc.stdout and "against the recipe's reference run" not in proc.stdout
    one = hellaswag_rows(tmp_path / "one")
    assert sorted(one) == [0, 2, 3] and all(n == 7 for _, _, n in one.values())
    assert all(0 <= a <= 1 and round(a * 7) == a * 7 for a, _, _ in one.values())  # a count of 7 items
    proc = run_cli("torchrun", "--standalone", "--nproc_per_node=2", "-m", "nanogpt.train",
                   *tiny(tmp_path / "two", data_dir, backend="gloo", **common), cwd=tmp_path, check=0)
    assert proc.stdout.count("hellaswag 2: acc_norm") == 1  # rank 0 says it
    two = hellaswag_rows(tmp_path / "two")
    assert two == one, (one, two)
    # a subset: the first 3 items
    proc = run_cli("nanogpt-train", *tiny(tmp_path / "three", data_dir, **{**common, "max_iters": 1, "hellaswag_items": 3}),
                   cwd=tmp_path, check=0)
    assert {n for _, _, n in hellaswag_rows(tmp_path / "three").values()} == {3}


def copy_run(base, tmp):
    shutil.copytree(base, tmp / "run")
    return tmp / "run"


def resume(base, data_dir, tmp, **kw):
    return ("nanogpt-train", *tiny(copy_run(base, tmp), data_dir, init_from="resume", **kw))


def another_dataset(data_dir, tmp):
    "The data folder with a second dataset beside shakespeare_char, the same characters under another name."
    shutil.copytree(data_dir, tmp / "data")
    shutil.copytree(tmp / "data" / "shakespeare_char", tmp / "data" / "shakespeare_copy")
    return tmp / "data"


def hellaswag_file(tmp, text):
    (tmp / "hs.jsonl").write_text(text)
    return tmp / "hs.jsonl"


def no_wandb_module(tmp):
    "A folder to put first on PYTHONPATH whose `wandb` cannot be imported, as if it were not installed."
    (tmp / "fake" / "wandb").mkdir(parents=True)
    (tmp / "fake" / "wandb" / "__init__.py").write_text("raise ImportError('No module named wandb')\n")
    return str(tmp / "fake")


CASES = {  # name: (command(base run, data_dir, tmp), extra environment(tmp), fragments the error line must hold)
    "resume with another model": (lambda b, d, t: resume(b, d, t, max_iters=8, n_layer=3, pos_emb="rope"), None,
                                  ["n_layer=2", "pos_emb=learned", "--n_layer=2 --pos_emb=learned", "--out_dir"]),
    "resume with a smaller block_size": (lambda b, d, t: resume(b, d, t, max_iters=8, block_size=16), None,
                                         ["block_size=32", "--block_size=32"]),
    "resume on another dataset": (lambda b, d, t: resume(b, another_dataset(d, t), t, max_iters=8, dataset="shakespeare_copy"), None,
                                  ["dataset=shakespeare_char"]),
    "resume to a max_iters already reached": (lambda b, d, t: resume(b, d, t, max_iters=4), None,
                                              ["max_iters=4", "iteration 4", "--max_iters"]),
    "fsdp in one process": (lambda b, d, t: ("nanogpt-train", *tiny(t / "o", d, parallel="fsdp")), None,
                            ["parallel=fsdp", "torchrun"]),
    "reference of words": (lambda b, d, t: ("nanogpt-train", *tiny(t / "o", d), "--reference={0: 'low'}"), None,
                           ["reference", "'low'"]),
    "wandb without a login": (lambda b, d, t: ("nanogpt-train", *tiny(t / "o", d, wandb_log=True)),
                              lambda t: {"HOME": str(t), "WANDB_API_KEY": None, "WANDB_MODE": None, "WANDB_DIR": None,
                                         "NETRC": str(t / "no-netrc")},
                              ["wandb", "wandb login", "WANDB_MODE=offline", "--wandb_log=False"]),
    "wandb not installed": (lambda b, d, t: ("nanogpt-train", *tiny(t / "o", d, wandb_log=True)),
                            lambda t: {"PYTHONPATH": no_wandb_module(t)}, ["pip install wandb"]),
    "a step bigger than memory": (lambda b, d, t: ("nanogpt-train", *tiny(t / "o", d, batch_size=4_000_000)), None,
                                  ["GiB", "free", "--batch_size", "--activation_checkpointing"]),
    "hellaswag on a char dataset it cannot write": (
        lambda b, d, t: ("nanogpt-train", *tiny(t / "o", d, eval_hellaswag_interval=5, hellaswag=hellaswag_file(t, json.dumps(
            {"ctx": "A [bracketed] 42", "endings": ["a", "b", "c", "d"], "label": 0}) + "\n"))), None,
        ["eval_hellaswag_interval=5", "65 characters", "'['", "BPE"]),
    "hellaswag offline without a file": (lambda b, d, t: ("nanogpt-train", *tiny(t / "o", t / "data", eval_hellaswag_interval=5)),
                                         lambda t: {"NANOGPT_HELLASWAG": None, "http_proxy": "http://127.0.0.1:9",
                                                    "https_proxy": "http://127.0.0.1:9"},
                                         ["eval_hellaswag_interval=5", "NANOGPT_HELLASWAG"]),
    "hellaswag path to nothing": (lambda b, d, t: ("nanogpt-train", *tiny(t / "o", d, eval_hellaswag_interval=5,
                                                                          hellaswag=t / "missing.jsonl")), None,
                                  ["missing.jsonl", "NANOGPT_HELLASWAG"]),
}


def snapshot(folder) -> dict:
    return {p: p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file() and p.name != ".lock"}


@pytest.mark.parametrize("name", CASES)
def test_bad_run_gives_one_line(name, base, data_dir, tmp_path):
    "Each case: exit status 1, one `error:` line with its fragments, no traceback, the run it resumed unchanged."
    make, env, fragments = CASES[name]
    if name == "hellaswag offline without a file":  # a dataset of its own: the cache folder is beside it, empty
        shutil.copytree(data_dir, tmp_path / "data")
    command = make(base, data_dir, tmp_path)
    before = snapshot(tmp_path / "run") if (tmp_path / "run").exists() else {}
    proc = run_cli(*command, cwd=tmp_path, env=env(tmp_path) if env else None, timeout=300)
    after = snapshot(tmp_path / "run") if (tmp_path / "run").exists() else {}
    each_gives_one_line([(name, proc, fragments, before == after)], 1, "the run's files changed")


def test_a_resume_names_what_it_changes(base, data_dir, tmp_path):
    proc = run_cli(*resume(base, data_dir, tmp_path, max_iters=6, learning_rate=3e-4, dropout=0.1), cwd=tmp_path, check=0)
    line = next(l for l in proc.stdout.splitlines() if l.startswith("resuming with settings changed"))
    assert "max_iters 4 -> 6" in line and "learning_rate 0.001 -> 0.0003" in line and "dropout 0.0 -> 0.1" in line
    assert "from resume at iteration 4" in proc.stdout and sorted(losses(tmp_path / "run")) == list(range(6))


def test_sigterm_saves_and_exits_143(data_dir, tmp_path):
    "SIGTERM: a resumable state.pt, the line that says how to continue, and the exit status of a signal (128 + 15)."
    out = tmp_path / "run"
    p = subprocess.Popen([str(BIN / "nanogpt-train"), *tiny(out, data_dir, max_iters=100000)], cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not ((out / "log.jsonl").exists() and len(losses(out)) >= 3):
        time.sleep(0.2)
    p.send_signal(signal.SIGTERM)
    stdout, stderr = p.communicate(timeout=60)
    assert p.returncode == 128 + signal.SIGTERM, stderr
    assert "continue with --init_from=resume" in stdout and "Traceback" not in stderr
    assert load_checkpoint(out / "state.pt")["iter_num"] == max(losses(out)) + 1


def test_under_torchrun_the_first_error_is_the_one_shown(tmp_path, data_dir):
    "Rank 0 cannot write log.jsonl: every rank stops with that one message, and none with a broken connection."
    out = tmp_path / "run"
    (out / "log.jsonl").mkdir(parents=True)  # a folder where the log goes: only rank 0 writes it
    proc = run_cli("torchrun", "--standalone", "--nproc_per_node=2", "-m", "nanogpt.train",
                   *tiny(out, data_dir, backend="gloo", device="cpu", gradient_accumulation_steps=2, max_iters=2), cwd=tmp_path)
    assert proc.returncode != 0
    errors = [l for l in proc.stderr.splitlines() if l.startswith("error: ")]
    assert errors and set(errors) == {errors[0]} and "log.jsonl" in errors[0], proc.stderr
    assert "closed by peer" not in proc.stderr and not re.search(r'File ".*/nanogpt/', proc.stderr), proc.stderr


def test_a_dataset_prepared_again_mid_run_is_named(tmp_path, data_dir):
    """The step and the evaluation check every batch against the model's vocabulary: a dataset prepared again with another
    tokenizer under a running run stops it with the data's own message, not an index error deep in the embedding."""
    import numpy as np
    import torch
    from nanogpt.checkpoint import Progress
    from nanogpt.config import TrainConfig
    from nanogpt.core import NanoGPTError
    from nanogpt.data import load_meta
    from nanogpt.modern import build_gpt
    from nanogpt.parallel import Processes
    from nanogpt.step import build_run, train_step
    from nanogpt.train import Recorder, StopFlag, evaluate, model_config
    data = tmp_path / "shakespeare_char"
    shutil.copytree(data_dir / "shakespeare_char", data)
    cfg = TrainConfig(dataset="shakespeare_char", data_dir=str(tmp_path), out_dir=str(tmp_path / "run"), n_layer=1, n_head=2,
                      n_embd=16, block_size=16, batch_size=2, gradient_accumulation_steps=1, eval_iters=1, compile=False,
                      device="cpu", dtype="float32")
    meta = load_meta(data)
    run = build_run(cfg, Processes(), "cpu", build_gpt(model_config(cfg, meta)), data, meta)
    train_step(run, 0, 1.0)  # as prepared: fine
    for split in ("train", "val"):  # prepared again in GPT-2's tokens, in place, while the run reads it
        path = data / f"{split}.bin"
        np.full(path.stat().st_size // 2, 13000, dtype=np.uint16).tofile(path)
    with pytest.raises(NanoGPTError, match="token id 13000, past the model's vocabulary of 65.*prepared again"):
        train_step(run, 1, 1.0)
    progress = Progress(clips=torch.zeros((), dtype=torch.long))
    with pytest.raises(NanoGPTError, match="token id 13000, past the model's vocabulary of 65"):
        evaluate(run, progress, Recorder(cfg, master=True), StopFlag())


def test_a_reference_judges_only_where_it_was_measured():
    "Between two of the reference run's evaluations its curve is unknown (and falls steeply early on): no verdict there."
    from nanogpt.train import against_reference
    ref = {0: 4.162, 250: 2.448, 500: 2.295}
    assert against_reference(ref, 60, 3.0) is None  # interpolating (3.751 there) would have said "0.75 below it"
    assert against_reference(ref, 750, 2.0) is None  # past its last point
    assert against_reference(ref, 250, 2.47).endswith("2.4480 at iteration 250, on track")
    assert against_reference(ref, 500, 2.495).endswith("0.20 above it")
    assert against_reference({"250": 2.448}, 250, 2.2).endswith("0.25 below it")  # keys as a config file may write them
