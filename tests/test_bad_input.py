"""Bad input, as a careful user would try it: every case runs the real command in a subprocess and must end in one
`error:` line that names the file or setting, exit status 1, no traceback, and no byte of a checkpoint or dataset changed.
The cases run two at a time (one per core): each start of a command imports torch."""
import json
import os
import resource
import shutil
import signal
import subprocess
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import BIN, each_gives_one_line, one_line_error, run_cli
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


def edit_ckpt(edit):
    "Change the run's ckpt.pt with `edit(checkpoint dict)`, as another program or version might have written it."
    def change(run):
        ckpt = torch.load(run / "ckpt.pt", weights_only=True)
        edit(ckpt)
        torch.save(ckpt, run / "ckpt.pt")
    return change


def link_out(name):
    "Put a symbolic link named `name` in the run, pointing at a file outside it (in ../outside, checked unchanged)."
    def change(run):
        (run.parent / "outside").mkdir()
        (run.parent / "outside" / "victim.txt").write_text("a file of the user's, outside the run\n")
        (run / name).unlink(missing_ok=True)
        (run / name).symlink_to(run.parent / "outside" / "victim.txt")
    return change


def with_outside(made):
    command, keep = made
    return command, [*keep, keep[0].parent / "outside"]


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
    # writes never follow a link out of the run
    "log.jsonl a link out of the run": (lambda b, t: with_outside(case_run(b, t, link_out("log.jsonl"))),
                                        ["log.jsonl", "symbolic link"]),
    ".lock a link out of the run": (lambda b, t: with_outside(case_run(b, t, link_out(".lock"))), [".lock", "symbolic link"]),
    # loading a model
    "sample: NaN weights": (lambda b, t: case_run(b, t, edit_ckpt(lambda c: c["model"]["lm_head.weight"].fill_(float("nan"))),
                                                  cmd="nanogpt-sample"), ["ckpt.pt", "not finite", "NaN or inf in transformer.", "lower learning_rate"]),
    "sample: inf weights": (lambda b, t: case_run(b, t, edit_ckpt(lambda c: next(iter(c["model"].values())).view(-1)[0].fill_(float("inf"))),
                                                  cmd="nanogpt-sample"), ["ckpt.pt", "not finite"]),
    "sample: weights of another shape": (lambda b, t: case_run(b, t, edit_ckpt(lambda c: c["model_args"].update(n_embd=64)),
                                                               cmd="nanogpt-sample"), ["do not fit", "model_args"]),
    "sample: a model and a tokenizer of other runs": (
        lambda b, t: case_run(b, t, edit_ckpt(lambda c: c["meta"].update(itos=c["meta"]["itos"] + list("àéîõü"), vocab_size=70)),
                              cmd="nanogpt-sample"), ["ckpt.pt", "70", "65", "different runs"]),
    "sample: a ckpt.pt folder": (lambda b, t: case_run(b, t, lambda r: (r / "ckpt.pt").unlink() or (r / "ckpt.pt").mkdir(),
                                                       cmd="nanogpt-sample"), ["ckpt.pt is a folder"]),
    "sample: out_dir a file": (lambda b, t: (t / "file").write_text("x") and values(b, t, "nanogpt-sample", f"--out_dir={t / 'file'}"),
                               ["file", "is a file, not a run folder"]),
    "sample: init_from a name of no model": (lambda b, t: values(b, t, "nanogpt-sample", "--init_from=gpt5"),
                                             ["init_from='gpt5'", "not a GPT-2 name", "nor a run folder", "nor a Hugging Face folder"]),
    "sample: init_from an empty folder": (lambda b, t: (t / "gpt5").mkdir() or values(b, t, "nanogpt-sample", f"--init_from={t / 'gpt5'}"),
                                          ["no checkpoint", "gpt5", "found: nothing"]),
    "sample: a prompt outside the alphabet": (lambda b, t: values(b, t, "nanogpt-sample", "--start=Zürich ☃"),
                                              ["2 character(s)", "'ü'", "65"]),
    # datasets that contradict themselves
    "meta.json says gpt2 for a char dataset": (lambda b, t: case_data(b, t, edit_meta(lambda m: {**m, "tokenizer": "gpt2"})),
                                               ["meta.json", "gpt2", "itos"]),
    "meta.json says gpt2 with its vocabulary": (lambda b, t: case_data(b, t, edit_meta(
        lambda m: {k: v for k, v in m.items() if k != "itos"} | {"tokenizer": "gpt2"})), ["meta.json", "50,257"]),
    "meta.json listing a character twice": (lambda b, t: case_data(b, t, edit_meta(lambda m: {**m, "itos": ["a"] + m["itos"][1:]})),
                                            ["meta.json", "each once"]),
    "meta.json token count not a number": (lambda b, t: case_data(b, t, edit_meta(lambda m: {**m, "train_tokens": "many"})),
                                           ["meta.json", "train_tokens"]),
    "prepare: a 1-character text": (lambda b, t: (t / "one.txt").write_text("a") and values(
        b, t, "nanogpt-prepare", "shakespeare_char", f"--input={t / 'one.txt'}", f"--data_dir={t / 'data'}"),
        ["too short", "0 (train)", "1 (val)"]),
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


@pytest.mark.parametrize("name", CASES)
def test_bad_input_gives_one_line(name, base, tmp_path):
    "Each case: exit status 1, one `error:` line holding its fragments, no traceback, nothing it read or wrote changed."
    make, fragments = CASES[name]
    command, keep = make(base, tmp_path)
    before = snapshot(*keep, base)
    proc = run_cli(*command, cwd=tmp_path, env={"HF_HUB_OFFLINE": "1"}, timeout=300)
    each_gives_one_line([(name, proc, fragments, before == snapshot(*keep, base))], 1, "a file it read or wrote changed")


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


# ---- failures met while writing: a full disk, a failed plot, a dataset prepared again ----

def test_a_run_survives_a_plot_it_cannot_write(base, tmp_path):
    "loss.png a folder, or a link out of the run: one warning, the run trains on and saves, nothing outside is touched."
    for kind in ("folder", "link"):
        run = tmp_path / kind / "run"
        shutil.copytree(base / "run", run)
        (run / "loss.png").unlink(missing_ok=True)
        if kind == "folder":
            (run / "loss.png").mkdir()
        else:
            link_out("loss.png")(run)
        proc = run_cli("nanogpt-train", *train_args(run, base / "data", max_iters=8, eval_interval=2, init_from="resume"),
                       cwd=tmp_path, check=0)
        warnings = [l for l in (proc.stdout + proc.stderr).splitlines() if l.startswith("warning: could not draw")]
        assert len(warnings) == 1 and "loss.png" in warnings[0], proc.stdout + proc.stderr
        assert load_checkpoint(run / "state.pt")["iter_num"] == 8
        if kind == "link":
            assert (run.parent / "outside" / "victim.txt").read_text() == "a file of the user's, outside the run\n"


def test_prepare_checks_the_room_before_writing(tmp_path, shakespeare_input, monkeypatch, capsys):
    "A disk without room for the token files: one clear error before any byte is written, the dataset there kept."
    import nanogpt.data
    from nanogpt.core import NanoGPTError
    d = prepare("shakespeare_char", tmp_path, input=shakespeare_input)
    before = snapshot(d)
    full = lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 10**5, 10**5)  # 100 kB free
    monkeypatch.setattr(nanogpt.data, "shutil", types.SimpleNamespace(disk_usage=full))
    with pytest.raises(NanoGPTError, match=r"0\.1 MB free, but the dataset needs 2\.\d MB"):
        prepare("shakespeare_char", tmp_path, input=shakespeare_input)
    small = tmp_path / "corpus.jsonl"  # the corpus path checks before its streamed writes too
    small.write_text("".join(json.dumps({"text": f"document {i} " * 20000}) + "\n" for i in range(4)))
    with pytest.raises(NanoGPTError, match="MB free, but the dataset needs"):
        prepare("mine", tmp_path, input=str(small), num_proc=1)
    assert snapshot(d) == before and sorted(p.name for p in tmp_path.rglob(".*")) == []


def test_a_failed_write_removes_its_temporary_files(tmp_path, shakespeare_input, monkeypatch):
    "The disk fills in the middle of writing train.bin: a clear error, no temporary file, the previous dataset kept."
    import errno
    import nanogpt.corpus
    from nanogpt.core import NanoGPTError
    docs = tmp_path / "corpus.jsonl"
    docs.write_text("".join(json.dumps({"text": f"document {i} " * 300}) + "\n" for i in range(40)))
    d = prepare("mine", tmp_path, input=str(docs), num_proc=1)
    before = snapshot(d)

    class FillsUp:  # a file whose second write finds the disk full, as a real one would say it
        def __init__(self, path, mode):
            self.f, self.writes = open(path, mode), 0
        def __enter__(self): return self
        def __exit__(self, *a): self.f.close()
        def write(self, b):
            self.writes += 1
            if self.writes > 1:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.f.write(b)
    monkeypatch.setattr(nanogpt.corpus, "open", FillsUp, raising=False)
    docs.write_text("".join(json.dumps({"text": f"other {i} " * 300}) + "\n" for i in range(40)))
    with pytest.raises(NanoGPTError, match="No space left on device.*temporary files were removed.*kept"):
        prepare("mine", tmp_path, input=str(docs), num_proc=1)
    assert snapshot(d) == before and not list(d.glob(".*"))


def test_a_file_size_limit_mid_prepare_is_one_line(base, tmp_path, shakespeare_input):
    "The real command under a file-size limit smaller than train.bin: one error line, no temporary file, the old dataset kept."
    data = tmp_path / "data"
    shutil.copytree(base / "data", data)
    before = snapshot(data)

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2**20, 2**20))
    args = ["shakespeare_char", f"--data_dir={data}", f"--input={shakespeare_input}"]
    proc = subprocess.run([str(BIN / "nanogpt-prepare"), *args], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          preexec_fn=small_files)
    one_line_error(proc, "could not write the dataset", "kept")
    assert snapshot(data) == before and not list((data / "shakespeare_char").glob(".*"))


def test_replacing_a_dataset_says_so(tmp_path, shakespeare_input, capsys):
    "Preparing again with other contents prints one note naming what was there; the same contents again, nothing."
    prepare("shakespeare_char", tmp_path, input=shakespeare_input)
    capsys.readouterr()
    prepare("shakespeare_char", tmp_path, input=shakespeare_input)
    assert "note: replacing" not in capsys.readouterr().err
    other = tmp_path / "other.txt"
    other.write_text(shakespeare_input.read_text()[:20000])
    prepare("shakespeare_char", tmp_path, input=other)
    err = capsys.readouterr().err
    assert err.count("note: replacing the dataset") == 1 and "train_tokens 1003854" in err, err


def test_a_dataset_prepared_again_under_a_run_is_a_clear_error(tmp_path):
    "A reader finding token ids past its model's vocabulary (the files were replaced under it) gets one clear line."
    from nanogpt.core import NanoGPTError
    from nanogpt.data import CharTokenizer, get_batch, write_dataset
    d = write_dataset(tmp_path / "d", CharTokenizer("abcdefgh"), [0, 7] * 200, [1, 2] * 50)
    x, y = get_batch(d, "train", 2, 8, vocab_size=8)
    assert int(x.max()) == 7
    with pytest.raises(NanoGPTError, match="token id 7, past the model's vocabulary of 5.*prepared again"):
        get_batch(d, "train", 2, 8, vocab_size=5)


def test_writes_refuse_links_and_planted_temporary_names(tmp_path):
    "atomic_write and the run's lock and log never write through a link; a link under the temporary name is removed."
    from nanogpt.checkpoint import RunLock, RunLog
    from nanogpt.core import NanoGPTError, atomic_write
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    run = tmp_path / "run"
    run.mkdir()
    (run / "ckpt.pt").symlink_to(victim)
    with pytest.raises(NanoGPTError, match="ckpt.pt is a symbolic link"):
        with atomic_write(run / "ckpt.pt") as tmp:
            tmp.write_text("x")
    (run / f".state.pt.tmp-{os.getpid()}").symlink_to(victim)  # planted where the next save writes its bytes
    with atomic_write(run / "state.pt") as tmp:
        tmp.write_text("new")
    assert (run / "state.pt").read_text() == "new" and not (run / "state.pt").is_symlink()
    for name, make in ((".lock", lambda: RunLock(run).acquire()), ("log.jsonl", lambda: RunLog(run))):
        (run / name).symlink_to(victim)
        with pytest.raises(NanoGPTError, match=f"{name} is a symbolic link"):
            make()
    assert victim.read_text() == "keep"


def test_playground_session_misuse_gives_clear_errors():
    "Session methods given positions, tokens or settings out of range: a NanoGPTError naming them, the session unchanged."
    from nanogpt.core import NanoGPTError
    from nanogpt.data import CharTokenizer
    from nanogpt.model import GPT, GPTConfig
    from nanogpt.playground import Session
    torch.manual_seed(0)
    tok = CharTokenizer("abcdefgh")
    model = GPT(GPTConfig(block_size=16, vocab_size=8, n_layer=1, n_head=2, n_embd=16))
    with pytest.raises(NanoGPTError, match="9 tokens but the model only 8"):
        Session(model, CharTokenizer("abcdefghi"), device="cpu", dtype="float32")
    s = Session(model, tok, device="cpu", dtype="float32")
    s.set_prompt("abc")
    list(s.generate(4, {"temperature": 1.0}))
    text = s.text
    bad = [(lambda: s.select(-1), "no token -1"), (lambda: s.select(99), "no token 99"),
           (lambda: s.select(2.5), "token position=2.5"), (lambda: s.set_prompt(None), "not text"),
           (lambda: s.generate(0, {}), "max_new_tokens=0"), (lambda: s.generate(2, {"temp": 1}), "temp"),
           (lambda: s.generate(2, {"top_k": -1}), "top_k=-1")]
    for call, fragment in bad:
        with pytest.raises(NanoGPTError, match=fragment):
            call()
    f = s.select(3)
    for call, fragment in ((lambda: s.branch(3, 8, {}), "token=8"), (lambda: s.branch(3, -1, {}), "token=-1"),
                           (lambda: f.attention(1), "layer=1"), (lambda: f.attention(0, 2), "head=2")):
        with pytest.raises(NanoGPTError, match=fragment):
            call()
    assert s.text == text
