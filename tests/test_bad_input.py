"""Bad input, as a careful user would try it: every case runs the real command in a subprocess and must end in one
`error:` line that names the file or setting, exit status 1, no traceback, and no byte of a checkpoint or dataset changed.
The cases run two at a time (one per core): each start of a command imports torch."""
import json
import resource
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from conftest import BIN, one_line_error, run_cli
from nanogpt.checkpoint import load_checkpoint
from nanogpt.corpus import prepare

TINY = dict(n_layer=2, n_head=2, n_embd=32, block_size=32, batch_size=4, eval_iters=2, log_interval=1, dtype="float32",
            warmup_iters=2, lr_decay_iters=20, compile=False, device="cpu")


def train_args(out, data, **kw):
    return ["train_shakespeare_char_cpu", *(f"--{k}={v}" for k, v in {**TINY, "out_dir": out, "data_dir": data, **kw}.items())]


@pytest.fixture(scope="module")
def base(tmp_path_factory, shakespeare_input):
    "A prepared shakespeare_char dataset and a finished tiny run (ckpt.pt and state.pt), never changed by the cases."
    root = tmp_path_factory.mktemp("base")
    prepare("shakespeare_char", root / "data", input=shakespeare_input)
    run_cli("nanogpt-train", *train_args(root / "run", root / "data", max_iters=4, eval_interval=2), cwd=root, check=0)
    return root


def snapshot(*folders) -> dict:
    "Every file's bytes under `folders`: what a failed command must leave as it was."
    return {p: p.read_bytes() for f in folders if Path(f).exists() for p in sorted(Path(f).rglob("*"))
            if p.is_file() and p.name != ".lock"}  # the lock file names the last process that held the run


def case_data(base, tmp, change):
    "A copy of the dataset with `change(folder)` applied; training on it must fail."
    data = tmp / "data"
    shutil.copytree(base / "data", data)
    change(data / "shakespeare_char")
    return ("nanogpt-train", *train_args(tmp / "run", data, max_iters=2)), [data]


def write_tokens(path, ids):
    np.asarray(ids, dtype=np.uint16).tofile(path)


def edit_meta(edit):
    def change(d):
        meta = json.loads((d / "meta.json").read_text())
        (d / "meta.json").write_text(json.dumps(edit(meta)))
    return change


def case_run(base, tmp, change, cmd="nanogpt-train", **kw):
    "A copy of the finished run with `change(run folder)` applied."
    run = tmp / "run"
    shutil.copytree(base / "run", run)
    change(run)
    if cmd == "nanogpt-sample":
        return (cmd, f"--out_dir={run}", "--max_new_tokens=5", "--num_samples=1", "--device=cpu"), [run]
    return (cmd, *train_args(run, base / "data", max_iters=6, init_from="resume", **kw)), [run]


def truncate(name):
    def change(run):
        data = (run / name).read_bytes()
        (run / name).write_bytes(data[: len(data) // 3])
    return change


def corpus(tmp, files: dict, *extra):
    src = tmp / "corpus"
    src.mkdir()
    for name, content in files.items():
        (src / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return ("nanogpt-prepare", "mine", f"--input={src}", f"--data_dir={tmp / 'data'}", "--num_proc=1", *extra), []


def values(base, tmp, cmd, *args):
    if cmd == "nanogpt-train":
        return (cmd, *train_args(tmp / "run", base / "data", max_iters=2), *args), []
    if cmd == "nanogpt-sample":
        return (cmd, f"--out_dir={base / 'run'}", "--max_new_tokens=5", "--device=cpu", *args), []
    if cmd == "nanogpt-bench":
        return (cmd, "--model=tiny", "--iters=1", "--device=cpu", *args), []
    return (cmd, *args), []


CASES = {  # name: (make(base, tmp) -> (command, folders that must not change), fragments the error line must hold)
    # the dataset files
    "train.bin of odd length": (lambda b, t: case_data(b, t, lambda d: open(d / "train.bin", "ab").write(b"\0")),
                                ["train.bin", "bytes"]),
    "empty val.bin": (lambda b, t: case_data(b, t, lambda d: (d / "val.bin").write_bytes(b"")), ["val.bin", "empty"]),
    "token ids past the vocab": (lambda b, t: case_data(b, t, lambda d: write_tokens(d / "train.bin", [1] * 1_003_853 + [70])),
                                 ["train.bin", "token id 70", "65"]),
    "meta.json missing": (lambda b, t: case_data(b, t, lambda d: (d / "meta.json").unlink()), ["meta.json", "nanogpt-prepare"]),
    "meta.json malformed": (lambda b, t: case_data(b, t, lambda d: (d / "meta.json").write_text("{not json")),
                            ["meta.json", "JSON"]),
    "meta.json not an object": (lambda b, t: case_data(b, t, lambda d: (d / "meta.json").write_text("[1, 2]")),
                                ["meta.json", "object"]),
    "meta.json without vocab_size": (lambda b, t: case_data(b, t, edit_meta(lambda m: {k: v for k, v in m.items() if k != "vocab_size"})),
                                     ["meta.json", "vocab_size"]),
    "meta.json vocab_size against its chars": (lambda b, t: case_data(b, t, edit_meta(lambda m: {**m, "vocab_size": 80})),
                                               ["meta.json", "80"]),
    "meta.json token count against train.bin": (lambda b, t: case_data(b, t, edit_meta(lambda m: {**m, "train_tokens": 7})),
                                                ["train.bin", "meta.json"]),
    # the checkpoint files
    "ckpt.pt put where state.pt belongs": (lambda b, t: case_run(b, t, lambda r: shutil.copy(r / "ckpt.pt", r / "state.pt")),
                                           ["state.pt", "optimizer"]),
    "state.pt missing beside ckpt.pt": (lambda b, t: case_run(b, t, lambda r: (r / "state.pt").unlink()),
                                        ["state.pt", "sampled"]),
    "truncated state.pt": (lambda b, t: case_run(b, t, truncate("state.pt")), ["state.pt", "ckpt.pt"]),
    "truncated ckpt.pt, sampling": (lambda b, t: case_run(b, t, truncate("ckpt.pt"), cmd="nanogpt-sample"),
                                    ["ckpt.pt", "--init_from=resume"]),
    # the places written to
    "out_dir under a file": (lambda b, t: (t / "file").write_text("x") and values(b, t, "nanogpt-train", f"--out_dir={t / 'file' / 'run'}"),
                             ["out_dir", "file"]),
    "data_dir under a file": (lambda b, t: (t / "file").write_text("x") and values(
        b, t, "nanogpt-prepare", "shakespeare_char", f"--data_dir={t / 'file'}", f"--input={b / 'data' / 'shakespeare_char' / 'meta.json'}"),
        ["cannot write", "file"]),
    # the values
    "beta1 of 1": (lambda b, t: values(b, t, "nanogpt-train", "--beta1=1.0"), ["beta1=1.0"]),
    "negative weight_decay": (lambda b, t: values(b, t, "nanogpt-train", "--weight_decay=-0.1"), ["weight_decay=-0.1"]),
    "min_lr above learning_rate": (lambda b, t: values(b, t, "nanogpt-train", "--min_lr=0.1"), ["min_lr=0.1"]),
    "negative warmup_iters": (lambda b, t: values(b, t, "nanogpt-train", "--warmup_iters=-5"), ["warmup_iters=-5"]),
    "negative grad_clip": (lambda b, t: values(b, t, "nanogpt-train", "--grad_clip=-1"), ["grad_clip=-1"]),
    "seed past the RNG": (lambda b, t: values(b, t, "nanogpt-train", f"--seed={2**64}"), ["seed="]),
    "empty out_dir": (lambda b, t: values(b, t, "nanogpt-train", "--out_dir="), ["out_dir"]),
    "unknown init_from": (lambda b, t: values(b, t, "nanogpt-train", "--init_from=gpt3"), ["init_from='gpt3'"]),
    "n_embd not divisible by n_head": (lambda b, t: values(b, t, "nanogpt-train", "--n_head=3"), ["n_embd", "n_head"]),
    "unknown pos_emb": (lambda b, t: values(b, t, "nanogpt-train", "--pos_emb=alibi"), ["pos_emb='alibi'", "rope"]),
    "rope with an odd head size": (lambda b, t: values(b, t, "nanogpt-train", "--pos_emb=rope", "--n_embd=30"),
                                   ["pos_emb='rope'", "15", "even"]),
    "unknown optimizer": (lambda b, t: values(b, t, "nanogpt-train", "--optimizer=sgd"), ["optimizer='sgd'", "muon"]),
    "resume with another optimizer": (lambda b, t: case_run(b, t, lambda r: None, optimizer="muon"), ["optimizer=adamw"]),
    "sample: prompt FILE: a folder": (lambda b, t: values(b, t, "nanogpt-sample", f"--start=FILE:{t}"), ["is a folder"]),
    "sample: negative seed": (lambda b, t: values(b, t, "nanogpt-sample", "--seed=-1"), ["seed=-1"]),
    "bench: negative batch_size": (lambda b, t: values(b, t, "nanogpt-bench", "--batch_size=-1"), ["batch_size=-1"]),
    "prepare: num_proc 0": (lambda b, t: values(b, t, "nanogpt-prepare", "openwebtext", "--num_proc=0"), ["num_proc"]),
    # a corpus of your own
    "corpus: an empty file": (lambda b, t: corpus(t, {"a.txt": ""}), ["no documents"]),
    "corpus: rows without text": (lambda b, t: corpus(t, {"a.jsonl": '{"text": "one"}\n{"text": null}\n{"other": 1}\n'}),
                                  ["corpus", "2 row(s)", "no text"]),
    "corpus: binary content": (lambda b, t: corpus(t, {"a.txt": bytes(range(256)) * 8}), ["a.txt", "UTF-8"]),
}


def test_bad_inputs_each_give_one_line(base, tmp_path):
    "Every case: exit status 1, one `error:` line holding its fragments, no traceback, nothing it read or wrote changed."
    def run(name):
        tmp = tmp_path / name.replace(" ", "_").replace(":", "").replace(".", "_")
        tmp.mkdir()
        make, fragments = CASES[name]
        command, keep = make(base, tmp)
        before = snapshot(*keep, base)
        proc = run_cli(*command, cwd=tmp, env={"HF_HUB_OFFLINE": "1"}, timeout=300)
        return name, proc, fragments, before == snapshot(*keep, base)
    failures = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for name, proc, fragments, unchanged in pool.map(run, CASES):
            try:
                assert proc.returncode == 1, f"exit status {proc.returncode}"
                one_line_error(proc, *fragments)
                assert unchanged, "a file it read or wrote changed"
            except AssertionError as e:
                failures.append(f"{name}: {e}\n{proc.stderr[-800:]}")
    assert not failures, f"{len(failures)} of {len(CASES)} cases failed:\n\n" + "\n\n".join(failures)


def test_a_second_process_cannot_take_a_running_run(base, tmp_path):
    out = tmp_path / "run"
    first = subprocess.Popen([str(BIN / "nanogpt-train"), *train_args(out, base / "data", max_iters=100000, eval_interval=1000)],
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (out / "log.jsonl").exists():
            time.sleep(0.2)
        for extra in ({}, {"init_from": "resume"}):  # neither a new run nor a resume may join it
            second = run_cli("nanogpt-train", *train_args(out, base / "data", max_iters=5, **extra), cwd=tmp_path)
            one_line_error(second, str(out), f"pid {first.pid}")
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    rows = [json.loads(l) for l in open(out / "log.jsonl")]  # one run's rows, none glued together
    assert rows and all("iter" in r for r in rows)


def test_kill_during_save_leaves_nothing_behind_and_resume_keeps_one_row_per_iteration(base, tmp_path):
    out = tmp_path / "run"
    size = dict(n_layer=4, n_embd=128, n_head=4)  # a checkpoint of ~10 MB: a save lasts long enough to be killed in
    run_cli("nanogpt-train", *train_args(out, base / "data", max_iters=5, eval_interval=5, **size), cwd=tmp_path, check=0)
    args = train_args(out, base / "data", max_iters=100000, eval_interval=3, always_save_checkpoint=True, init_from="resume", **size)
    for _ in range(10):  # resume, and kill -9 as soon as this process's save has begun
        p = subprocess.Popen([str(BIN / "nanogpt-train"), *args], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline and not list(out.glob(f".*.tmp-{p.pid}")):
            time.sleep(0.001)
        p.kill()
        p.wait()
        if list(out.glob(f".*.tmp-{p.pid}")):
            break
    assert list(out.glob(".*.tmp-*")), "no save was cut short"
    resume_at = load_checkpoint(out / "state.pt")["iter_num"]
    proc = run_cli("nanogpt-train", *train_args(out, base / "data", max_iters=resume_at + 4, eval_interval=3, init_from="resume",
                                                 **size), cwd=tmp_path, check=0)
    assert "left by a save that was cut short" in proc.stdout
    assert not list(out.glob(".*.tmp-*")), "the temporary files of the killed save are still there"
    iters = [r["iter"] for r in map(json.loads, open(out / "log.jsonl")) if "loss" in r]
    assert iters == sorted(set(iters)) and iters[-1] == resume_at + 3, iters  # each iteration once, in order


def test_disk_full_during_a_save_keeps_the_previous_checkpoint(base, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(base / "run", run)
    before = snapshot(run)
    size = (run / "state.pt").stat().st_size

    def small_files():  # files may grow to a third of a checkpoint: the next save runs out of room
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size // 3, size // 3))
    proc = subprocess.run([str(BIN / "nanogpt-train"), *train_args(run, base / "data", max_iters=8, eval_interval=2,
                                                                    init_from="resume")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, preexec_fn=small_files)
    one_line_error(proc, "could not write", "state.pt")
    after = snapshot(run)
    assert all(after[p] == before[p] for p in (run / "state.pt", run / "ckpt.pt"))
    assert not list(run.glob(".*.tmp-*"))
    load_checkpoint(run / "state.pt"), load_checkpoint(run / "ckpt.pt")


def test_gpt2_without_network_fails_fast(tmp_path):
    env = {"HF_HUB_OFFLINE": None, "HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": "https://huggingface.invalid"}
    proc = run_cli("nanogpt-sample", "--init_from=gpt2", "--device=cpu", cwd=tmp_path, env=env, timeout=25)
    one_line_error(proc, "gpt2", "network")
