"""Shards from the outside: the file format and its checks, the loader's windows (a pure function of their number,
disjoint across ranks, the stream in order), and `nanogpt-prepare fineweb_edu` / `--shard_tokens` on local Parquet
files shaped like FineWeb-Edu's, killed with SIGKILL mid-way and resumed."""
import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from conftest import BIN, one_line_error, run_cli
from nanogpt.core import NanoGPTError
from nanogpt.shards import HEADER, MANIFEST, ShardWriter, load_manifest, read_shard, shard_batch, window_starts, write_shard

EOT = 50256
INFO = {"tokenizer": "gpt2", "vocab_size": 50257, "eot": EOT, "dataset": "t"}
WORDS = ("the river school light measured students learn energy cells history water teacher a of and in to is was "
         "model data science earth plant animal number music city").split()


def one_line(e) -> str:
    "The message of a NanoGPTError: one line."
    assert "\n" not in str(e.value), str(e.value)
    return str(e.value)


def synthetic_docs(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return [np.array([EOT, *rng.integers(0, EOT, rng.integers(5, 300))], dtype=np.uint16) for _ in range(n)]


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    "A sharded dataset of synthetic documents (EOT first) in shards of 3,000 tokens, and its train stream."
    d = tmp_path_factory.mktemp("shards") / "syn"
    docs = synthetic_docs()
    w = ShardWriter(d, 3_000, INFO)
    for doc in docs:
        w.add(doc)
    m = w.close()
    return d, np.concatenate(docs)[m["val_tokens"]:]


# ---- the format ----

def test_shard_round_trip_and_header_checks(tmp_path):
    tokens = np.arange(1000, dtype=np.uint16) * 50
    sha = write_shard(tmp_path / "a.bin", tokens)
    raw = (tmp_path / "a.bin").read_bytes()
    assert len(raw) == HEADER.size + 2000 and raw[:8] == b"NGPTSHRD" and len(sha) == 64
    assert (np.asarray(read_shard(tmp_path / "a.bin", 1000)) == tokens).all()
    assert not list(tmp_path.glob(".*"))  # no temporary file left
    cases = {"cut.bin": (raw[:-3], "header says 1,000"), "tiny.bin": (raw[:10], "cut short"),
             "foreign.bin": (b"\x00" * 64, "not a nanogpt shard"),
             "v9.bin": (HEADER.pack(b"NGPTSHRD", 9, 1, b"uint16") + b"\x00\x00", "version 9")}
    for name, (content, fragment) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(NanoGPTError) as e:
            read_shard(tmp_path / name)
        assert fragment in one_line(e) and name in str(e.value)
    with pytest.raises(NanoGPTError) as e:
        read_shard(tmp_path / "a.bin", 999)
    assert "manifest.json says 999" in one_line(e)


def test_loader_bad_inputs_are_one_line(sharded, tmp_path):
    import shutil
    d = tmp_path / "copy"
    shutil.copytree(sharded[0], d)
    shard = d / load_manifest(d)["splits"]["train"][0]["file"]
    with open(shard, "r+b") as f:  # one token changed: the checksum no longer matches
        f.seek(HEADER.size + 4)
        f.write(b"\x01\x02")
    with pytest.raises(NanoGPTError) as e:
        shard_batch(d, "train", 2, 8, first_window=0)
    assert "does not match its checksum" in one_line(e) and shard.name in str(e.value)
    m = json.loads((d / MANIFEST).read_text())
    (d / MANIFEST).write_text(json.dumps(dict(m, complete=False)))
    with pytest.raises(NanoGPTError) as e:
        shard_batch(d, "train", 2, 8, first_window=0)
    assert "preparation stopped" in one_line(e) and "nanogpt-prepare copy" in str(e.value)
    (d / MANIFEST).write_text("{not json")
    with pytest.raises(NanoGPTError, match="not valid JSON"):
        shard_batch(d, "train", 2, 8, first_window=0)
    with pytest.raises(NanoGPTError) as e:
        shard_batch(tmp_path, "train", 2, 8, first_window=0)
    assert "no manifest.json" in one_line(e)
    with pytest.raises(NanoGPTError) as e:
        shard_batch(sharded[0], "train", 2, 8, first_window=0, vocab_size=1000)
    assert "past the model's vocabulary of 1000" in one_line(e)


# ---- the loader ----

def test_windows_are_a_pure_function_that_tiles_the_stream(sharded):
    d, train = sharded
    T, B = 16, 4
    x, y = shard_batch(d, "train", B, T, first_window=5)
    assert x.shape == y.shape == (B, T) and str(x.dtype) == "torch.int64"
    assert (x.numpy() == train[5 * T:9 * T].reshape(B, T)).all() and (y[:, :-1] == x[:, 1:]).all()
    assert (y[:, -1].numpy() == train[np.arange(6, 10) * T]).all()  # the last target is the next window's first input
    again, _ = shard_batch(d, "train", B, T, first_window=5)
    assert (again == x).all()
    count = (len(train) - 1) // T
    wrapped, _ = shard_batch(d, "train", B, T, first_window=count + 5)  # the next epoch, in the same order
    assert (wrapped == x).all()
    last = window_starts(d, "train", T, [count - 1])[0]
    assert last + T + 1 <= len(train) < last + 2 * T + 1


def test_two_ranks_read_disjoint_windows_that_together_are_one_process(sharded):
    d, train = sharded
    T, B, world, steps = 32, 3, 2, 25
    for align in (False, True):
        ranks = [np.stack([shard_batch(d, "train", B, T, first_window=(s * world + r) * B, align=align)[0].numpy()
                           for s in range(steps)]) for r in range(world)]
        one = np.stack([shard_batch(d, "train", B, T, first_window=s * B, align=align)[0].numpy() for s in range(steps * world)])
        assert (np.stack(ranks, 1).reshape(-1, T) == one.reshape(-1, T)).all()
        starts = [window_starts(d, "train", T, np.arange(steps * world * B).reshape(steps, world, B)[:, r].ravel(), align)
                  for r in range(world)]
        assert len(set(np.concatenate([np.arange(s, s + T) for s in starts[0]]).tolist())
                   & set(np.concatenate([np.arange(s, s + T) for s in starts[1]]).tolist())) == 0
        everything = np.sort(np.concatenate(starts))
        assert (np.diff(everything) >= (T + 1 if align else T)).all()  # in order, never overlapping
        if align:
            assert (one[:, :, 0] == EOT).all()  # every window opens a document
        else:
            assert (one.reshape(-1) == train[:steps * world * B * T]).all()  # one process reads the stream in order


def test_a_resumed_writer_writes_the_same_bytes(tmp_path):
    docs = synthetic_docs(200, seed=1)
    whole = ShardWriter(tmp_path / "whole", 1_000, INFO)
    for doc in docs:
        whole.add(doc)
    m = whole.close()
    w = ShardWriter(tmp_path / "cut", 1_000, INFO)
    for doc in docs[:77]:
        w.add(doc)
    (tmp_path / "cut" / ".train_000099.bin.tmp-1").write_bytes(b"half")  # what a kill mid-write leaves
    w = ShardWriter(tmp_path / "cut", 1_000, INFO)  # the first one never closed: killed
    assert 0 < w.shards and w.doc <= 77
    w.add(docs[w.doc][w.offset:], start=w.offset)
    for doc in docs[w.doc:]:
        w.add(doc)
    assert w.close() == m
    assert sorted(os.listdir(tmp_path / "cut")) == sorted(os.listdir(tmp_path / "whole"))
    for f in os.listdir(tmp_path / "whole"):
        assert (tmp_path / "cut" / f).read_bytes() == (tmp_path / "whole" / f).read_bytes()


# ---- nanogpt-prepare on local Parquet files shaped like FineWeb-Edu ----

def fineweb_edu_like(folder: Path, n: int, seed: int = 0, files: int = 2) -> list[str]:
    "Parquet files with FineWeb-Edu's columns (text, id, dump, url, ..., score, int_score); the documents' texts."
    import pyarrow as pa
    import pyarrow.parquet as pq
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, rng.integers(10, 200))).capitalize() + "." for _ in range(n)]
    folder.mkdir(parents=True, exist_ok=True)
    for k, part in enumerate(np.array_split(np.arange(n), files)):
        rows = {"text": [texts[i] for i in part], "id": [f"<urn:uuid:{i:08d}>" for i in part],
                "dump": ["CC-MAIN-2024-10"] * len(part), "url": [f"https://example.org/{i}" for i in part],
                "file_path": ["s3://commoncrawl/x.warc.gz"] * len(part), "language": ["en"] * len(part),
                "language_score": [0.95] * len(part), "token_count": [0] * len(part),
                "score": [3.1] * len(part), "int_score": [3] * len(part)}
        pq.write_table(pa.table(rows), folder / f"{k:03d}_00000.parquet")
    return texts


def expected_stream(texts) -> np.ndarray:
    import tiktoken
    enc = tiktoken.get_encoding("gpt2")
    return np.concatenate([[EOT, *enc.encode_ordinary(t)] for t in texts]).astype(np.uint16)


def contents(d: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


def test_prepare_fineweb_edu_from_local_parquet(tmp_path):
    texts = fineweb_edu_like(tmp_path / "fw", 300)
    proc = run_cli("nanogpt-prepare", "fineweb_edu", "--input=fw", "--shard_tokens=5000", "--num_proc=2", cwd=tmp_path, check=0)
    assert "tokens/s" in proc.stderr
    d = tmp_path / "data" / "fineweb_edu"
    m = load_manifest(d)
    files = [s["file"] for s in m["splits"]["val"] + m["splits"]["train"]]
    assert files[0] == "val_000000.bin" and len(m["splits"]["val"]) == 1 and m["documents"] == 300
    stream = np.concatenate([read_shard(d / f) for f in files])
    assert (stream == expected_stream(texts)).all()
    assert all(s["tokens"] == 5000 for s in m["splits"]["val"] + m["splits"]["train"][:-1])
    x, _ = shard_batch(d, "val", 2, 64, first_window=0, vocab_size=50257)
    assert (x.numpy().ravel() == stream[:128]).all()
    again = run_cli("nanogpt-prepare", "fineweb_edu", "--input=fw", "--shard_tokens=5000", cwd=tmp_path, check=0)
    assert "nothing to do" in again.stderr
    one_line_error(run_cli("nanogpt-prepare", "fineweb_edu", "--input=fw", "--shard_tokens=6000", cwd=tmp_path),
                   "other settings", "shard_tokens=5000")


def test_kill_9_during_preparation_resumes_to_the_same_bytes(tmp_path):
    fineweb_edu_like(tmp_path / "fw", 3000, seed=2)
    args = ["mine", "--input=fw", "--shard_tokens=2000", "--num_proc=2"]
    run_cli("nanogpt-prepare", *args, "--data_dir=whole", cwd=tmp_path, check=0)
    d = tmp_path / "cut" / "mine"
    proc = subprocess.Popen([str(BIN / "nanogpt-prepare"), *args, "--data_dir=cut"], cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (d / "train_000001.bin").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        workers = psutil.Process(proc.pid).children()
        os.kill(proc.pid, signal.SIGKILL)  # the command alone: its tokenizer processes must not outlive it
        proc.wait()
        gone, alive = psutil.wait_procs(workers, timeout=20)
        assert workers and not alive, f"tokenizer processes left running: {alive}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    m = json.loads((d / MANIFEST).read_text())
    assert not m["complete"], "the preparation finished before it could be killed: give it more documents"
    resumed = run_cli("nanogpt-prepare", *args, "--data_dir=cut", cwd=tmp_path, check=0)
    assert "resuming after" in resumed.stderr
    assert contents(d) == contents(tmp_path / "whole" / "mine")


def test_prepare_redoes_a_damaged_shard(tmp_path):
    fineweb_edu_like(tmp_path / "fw", 200, seed=3)
    args = ["mine", "--input=fw", "--shard_tokens=3000", "--num_proc=1"]
    run_cli("nanogpt-prepare", *args, cwd=tmp_path, check=0)
    d = tmp_path / "data" / "mine"
    before = contents(d)
    with open(d / "train_000002.bin", "r+b") as f:
        f.seek(HEADER.size)
        f.write(b"\xff\xff")
    proc = run_cli("nanogpt-prepare", *args, cwd=tmp_path, check=0)
    assert "train_000002.bin is missing or does not match its checksum" in proc.stderr
    assert contents(d) == before


def test_prepare_bad_inputs_are_one_line_and_leave_no_empty_folder(tmp_path):
    fineweb_edu_like(tmp_path / "fw", 20)
    cases = [(["x", "--input=fw", "--shard_tokens=0"], ["shard_tokens=0", ">= 1"]),
             (["x", "--input=fw", "--shard_tokens=100", "--tokenizer=bpe:300"], ["shards hold GPT-2 tokens"]),
             (["shakespeare_char", "--shard_tokens=100"], ["not sharded", "--shard_tokens=100"]),
             (["x", "--input=missing", "--shard_tokens=100"], ["missing", "does not exist"]),
             (["x", "--input=fw", "--shard_tokens=1000000"], ["all of them val", "smaller --shard_tokens"]),
             (["x", "--input=fw", "--shard_tokens=100", "--text_column=body"], ["no column 'body'"])]
    for args, fragments in cases:
        one_line_error(run_cli("nanogpt-prepare", *args, cwd=tmp_path), *fragments)
        assert not (tmp_path / "data").exists(), args  # issue 27: a failed prepare leaves no empty folder behind
    one_line_error(run_cli("nanogpt-prepare", "mine", "--input=nothing.txt", cwd=tmp_path), "does not exist")
    assert not (tmp_path / "data").exists()


def test_fineweb_edu_offline_is_one_line_and_leaves_nothing(tmp_path):
    "The real hub path, without a network: one line naming the data set and --input, and no folder left behind."
    proc = run_cli("nanogpt-prepare", "fineweb_edu", cwd=tmp_path, env={"HF_HUB_OFFLINE": "1"})
    one_line_error(proc, "HuggingFaceFW/fineweb-edu", "--input")
    assert not (tmp_path / "data").exists()


def test_shards_refuse_a_folder_they_cannot_resume(tmp_path):
    fineweb_edu_like(tmp_path / "fw", 20)
    (tmp_path / "data" / "old").mkdir(parents=True)
    (tmp_path / "data" / "old" / "meta.json").write_text("{}")
    one_line_error(run_cli("nanogpt-prepare", "old", "--input=fw", "--shard_tokens=100", cwd=tmp_path), "single-file dataset")
    (tmp_path / "data" / "bad").mkdir()
    (tmp_path / "data" / "bad" / MANIFEST).write_text("{half")
    one_line_error(run_cli("nanogpt-prepare", "bad", "--input=fw", "--shard_tokens=100", cwd=tmp_path), "not valid JSON", "start over")
