"""The data and corpus chapters from the outside: nanogpt-prepare as a user runs it, and its failure modes."""
import functools
import http.server
import json
import os
import threading
from pathlib import Path

import numpy as np
import psutil
import pytest

from conftest import one_line_error, run_cli
from nanogpt import data
from nanogpt.core import NanoGPTError
from nanogpt.corpus import prepare, prepare_corpus
from nanogpt.data import get_batch, load_meta, BPETokenizer


def tokens(d, split):
    return len(np.memmap(Path(d) / f"{split}.bin", dtype=np.uint16, mode="r"))


# ---- tiny Shakespeare through the console script, from another folder ----

def test_prepare_char_cli_from_any_folder(tmp_path, shakespeare_input):
    proc = run_cli("nanogpt-prepare", "shakespeare_char", "--input", shakespeare_input, cwd=tmp_path, check=0)
    d = tmp_path / "data" / "shakespeare_char"
    assert (tokens(d, "train"), tokens(d, "val")) == (1_003_854, 111_540)
    meta = load_meta(d)
    assert meta["vocab_size"] == 65 and meta["tokenizer"] == "char" and len(meta["itos"]) == 65
    assert "1,003,854" in proc.stderr
    assert sorted(os.listdir(d)) == ["meta.json", "train.bin", "val.bin"]  # no staging leftovers


def test_prepare_bpe_cli_with_env_and_data_dir(tmp_path, shakespeare_input):
    run_cli("nanogpt-prepare", "shakespeare", "--data_dir", "elsewhere", cwd=tmp_path,
            env={"NANOGPT_SHAKESPEARE": str(shakespeare_input)}, check=0)
    d = tmp_path / "elsewhere" / "shakespeare"
    assert (tokens(d, "train"), tokens(d, "val")) == (301_966, 36_059)
    assert load_meta(d)["vocab_size"] == 50257


def test_prepare_uses_input_already_in_dataset_dir(tmp_path, shakespeare_input):
    d = tmp_path / "data" / "shakespeare_char"
    d.mkdir(parents=True)
    (d / "input.txt").write_bytes(shakespeare_input.read_bytes())
    proc = run_cli("nanogpt-prepare", "shakespeare_char", cwd=tmp_path, env={"NANOGPT_SHAKESPEARE": None}, check=0)
    assert "downloading" not in proc.stderr and tokens(d, "train") == 1_003_854


def test_own_text_is_used_with_a_note(tmp_path):
    (tmp_path / "mine.txt").write_text("hello world\n" * 200)
    proc = run_cli("nanogpt-prepare", "shakespeare_char", "--input", "mine.txt", cwd=tmp_path, check=0)
    assert "not the canonical tiny Shakespeare" in proc.stderr
    assert load_meta(tmp_path / "data" / "shakespeare_char")["vocab_size"] == len(set("hello world\n"))


# ---- bad input: one line, non-zero exit, nothing half-written ----

def test_unknown_dataset_lists_known_ones(tmp_path):
    err = one_line_error(run_cli("nanogpt-prepare", "shakespear", cwd=tmp_path), "'shakespear'", "shakespeare_char",
                         "openwebtext", "--input")
    assert "did you mean shakespeare" in err
    assert not (tmp_path / "data").exists()


def test_no_network_no_local_file(tmp_path):
    # a proxy that refuses connections stands in for "no network"
    proc = run_cli("nanogpt-prepare", "shakespeare_char", cwd=tmp_path,
                   env={"NANOGPT_SHAKESPEARE": None, "https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"})
    one_line_error(proc, data.SHAKESPEARE_URL, "--input", data.SHAKESPEARE_ENV)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # nothing written (an empty folder at most)


def test_missing_input_file(tmp_path):
    one_line_error(run_cli("nanogpt-prepare", "shakespeare_char", "--input", "nope.txt", cwd=tmp_path), "nope.txt")


def test_empty_input_file(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    one_line_error(run_cli("nanogpt-prepare", "shakespeare_char", "--input", "empty.txt", cwd=tmp_path), "empty")


def test_unwritable_data_dir(tmp_path, shakespeare_input):
    (tmp_path / "afile").write_text("not a folder")
    proc = run_cli("nanogpt-prepare", "shakespeare_char", "--input", shakespeare_input, "--data_dir", "afile/data", cwd=tmp_path)
    one_line_error(proc, "cannot write to", "--data_dir")


@pytest.fixture
def http_server(tmp_path):
    "Serve tmp_path/www over HTTP on a free local port: the real download code, without the internet."
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield www, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_checks_sha256(tmp_path, http_server, shakespeare_input, monkeypatch):
    www, url = http_server
    (www / "input.txt").write_bytes(shakespeare_input.read_bytes())
    (www / "tampered.txt").write_bytes(shakespeare_input.read_bytes().replace(b"ROMEO", b"ROMEX"))
    dest = tmp_path / "d"
    dest.mkdir()
    with pytest.raises(NanoGPTError, match="checksum mismatch"):
        data.download(f"{url}/tampered.txt", dest / "input.txt", data.SHAKESPEARE_SHA256)
    assert os.listdir(dest) == []  # nothing kept
    # the full path: no local file -> download from (here, a local copy of) the canonical URL, checked
    monkeypatch.delenv(data.SHAKESPEARE_ENV, raising=False)
    monkeypatch.setattr(data, "SHAKESPEARE_URL", f"{url}/input.txt")
    d = prepare("shakespeare_char", tmp_path / "data")
    assert data.sha256_of(d / "input.txt") == data.SHAKESPEARE_SHA256 and tokens(d, "val") == 111_540


def test_failed_prepare_keeps_previous_dataset(tmp_path, shakespeare_input, monkeypatch):
    d = prepare("shakespeare_char", tmp_path, input=shakespeare_input)
    before = {n: (d / n).read_bytes() for n in ("train.bin", "val.bin", "meta.json")}

    def boom(self, s):
        raise KeyboardInterrupt  # Ctrl-C in the middle of tokenizing
    monkeypatch.setattr(data.CharTokenizer, "encode", boom)
    with pytest.raises(KeyboardInterrupt):
        prepare("shakespeare_char", tmp_path, input=shakespeare_input)
    assert {n: (d / n).read_bytes() for n in before} == before
    assert sorted(os.listdir(d)) == ["meta.json", "train.bin", "val.bin"]


def test_interrupted_write_leaves_no_half_dataset(tmp_path):
    tok = data.CharTokenizer("ab")

    class Boom(list):
        def __array__(self, *a, **k):
            raise OSError("disk full")
    with pytest.raises(NanoGPTError, match="could not write the dataset.*disk full.*temporary files were removed"):
        data.write_dataset(tmp_path / "x", tok, [0, 1, 0], Boom([1, 0]))
    assert os.listdir(tmp_path / "x") == []


# ---- corpora: OpenWebText's pipeline on data made here ----

DOCS = ["The quick brown fox jumps over the lazy dog.", "Hello, world!", "nanoGPT trains GPT-2 on OpenWebText.",
        "A fourth document, with <|endoftext|> typed as text.", "Five.", "Six is the last one here."] * 5


def expected_tokens(docs):
    bpe = BPETokenizer()
    return sum(len(bpe.encode(t)) + 1 for t in docs)


def check_corpus(d, docs):
    meta = load_meta(d)
    train, val = (np.fromfile(d / f"{s}.bin", dtype=np.uint16) for s in ("train", "val"))
    assert meta["documents"]["train"] + meta["documents"]["val"] == len(docs) and meta["documents"]["val"] >= 1
    assert len(train) + len(val) == expected_tokens(docs) == meta["train_tokens"] + meta["val_tokens"]
    assert (train == 50256).sum() + (val == 50256).sum() == len(docs)  # one end-of-text per document
    assert train[-1] == val[-1] == 50256


def test_corpus_from_dataset_parallel(tmp_path):
    import datasets
    ds = datasets.Dataset.from_dict({"text": DOCS})
    check_corpus(prepare_corpus("owt_tiny", ds, tmp_path, num_proc=2), DOCS)


def test_corpus_cli_jsonl_and_parquet(tmp_path):
    import datasets
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps({"body": t, "id": i}) + "\n" for i, t in enumerate(DOCS)))
    run_cli("nanogpt-prepare", "mine", "--input", "docs.jsonl", "--text_column", "body", "--num_proc", "2", cwd=tmp_path, check=0)
    check_corpus(tmp_path / "data" / "mine", DOCS)
    datasets.Dataset.from_dict({"text": DOCS}).to_parquet(tmp_path / "docs.parquet")
    run_cli("nanogpt-prepare", "openwebtext", "--input", "docs.parquet", cwd=tmp_path, check=0)
    check_corpus(tmp_path / "data" / "openwebtext", DOCS)


def test_corpus_folder_of_text_files(tmp_path):
    folder = tmp_path / "books"
    folder.mkdir()
    (folder / "a.txt").write_text("First paragraph.\n\nSecond paragraph,\nstill second.\n")
    (folder / "b.txt").write_text("Third.\n\nFourth.\n")
    run_cli("nanogpt-prepare", "books", "--input", folder, cwd=tmp_path, check=0)
    meta = load_meta(tmp_path / "data" / "books")
    assert meta["documents"]["train"] + meta["documents"]["val"] == 4  # split at blank lines


def test_corpus_bad_inputs(tmp_path):
    (tmp_path / "docs.jsonl").write_text(json.dumps({"body": "x"}) + "\n" + json.dumps({"body": "y"}) + "\n")
    one_line_error(run_cli("nanogpt-prepare", "c", "--input", "docs.jsonl", cwd=tmp_path), "no column 'text'", "body", "--text_column")
    one_line_error(run_cli("nanogpt-prepare", "c", "--input", "missing_dir", cwd=tmp_path), "missing_dir", "does not exist")
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed" / "a.txt").write_text("a")
    (tmp_path / "mixed" / "b.jsonl").write_text("{}")
    one_line_error(run_cli("nanogpt-prepare", "c", "--input", "mixed", cwd=tmp_path), "mixes file kinds")
    (tmp_path / "one.jsonl").write_text(json.dumps({"text": "only one"}) + "\n")
    one_line_error(run_cli("nanogpt-prepare", "c", "--input", "one.jsonl", cwd=tmp_path), "at least 2")


def test_openwebtext_offline_is_a_clear_error(tmp_path):
    proc = run_cli("nanogpt-prepare", "openwebtext", cwd=tmp_path, env={"HF_HUB_OFFLINE": "1"})
    one_line_error(proc, "Skylion007/openwebtext", "--input")


def test_hub_dataset_with_script_falls_back_to_parquet(tmp_path, monkeypatch, capsys):
    import datasets
    calls = []

    def fake_load(name, split, revision=None, **kw):
        calls.append(revision)
        if revision is None:
            raise RuntimeError("Dataset scripts are no longer supported, but found openwebtext.py")
        return datasets.Dataset.from_dict({"text": DOCS})
    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    check_corpus(prepare("openwebtext", tmp_path, num_proc=1), DOCS)
    assert calls == [None, "refs/convert/parquet"] and "Parquet conversion" in capsys.readouterr().err


# ---- the batch sampler ----

def test_batches_do_not_grow_memory(tmp_path):
    "nanoGPT #287: a memmap kept open maps in every page it reads. A fresh map per batch must not grow RSS."
    d = tmp_path / "big"
    d.mkdir()
    n = 128 * 2**20  # 128M tokens = 256 MB
    np.memmap(d / "train.bin", dtype=np.uint16, mode="w+", shape=(n,)).flush()
    proc = psutil.Process()

    def rss_growth(read):
        start = proc.memory_info().rss
        for step in range(3000):
            read(step)
        return (proc.memory_info().rss - start) / 2**20
    grew = rss_growth(lambda step: get_batch(d, "train", 12, 1024, seed=0, step=step))
    kept = np.memmap(d / "train.bin", dtype=np.uint16, mode="r")
    control = rss_growth(lambda step: [np.array(kept[i:i + 1025]) for i in data.batch_offsets(n, 12, 1024, seed=1, step=step)])
    assert control > 50, f"control: a kept memmap should grow RSS, grew {control:.0f} MiB"  # the test can see a leak
    assert grew < 20, f"get_batch grew RSS by {grew:.0f} MiB over 3000 batches"


def test_sampler_is_a_pure_function_of_its_key(tmp_path, shakespeare_input):
    d = prepare("shakespeare_char", tmp_path, input=shakespeare_input)
    a = get_batch(d, "val", 8, 64, seed=3, step=7, micro=1)
    b = get_batch(d, "val", 8, 64, seed=3, step=7, micro=1)
    assert all(t.equal(u) for t, u in zip(a, b))
    assert a[0].dtype.is_floating_point is False and a[0].shape == (8, 64)
    with pytest.raises(NanoGPTError, match="block_size"):
        get_batch(d, "val", 8, 200_000)
