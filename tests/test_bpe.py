"""The byte-level BPE of the data chapter: training, encoding, saving, and a dataset prepared with
`nanogpt-prepare --tokenizer=bpe:N` that trains and samples through the installed commands."""
import json
import random

import numpy as np
import pytest
import torch

from conftest import one_line_error, run_cli, tiny
from nanogpt.core import NanoGPTError
from nanogpt.corpus import parse_tokenizer, prepare
from nanogpt.data import BPE, gpt2_encoding, load_meta, merge_pair, tokenizer_from_meta

TEXT = ("To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer the slings and "
        "arrows of outrageous fortune, or to take arms against a sea of troubles and by opposing end them. ") * 20


# ---- the algorithm on inputs small enough to check by hand ----

def test_merge_pair_left_to_right():
    assert merge_pair([1, 1, 1, 2, 1, 1], (1, 1), 9) == [9, 1, 2, 9]
    assert merge_pair([], (1, 2), 9) == [] and merge_pair([1], (1, 2), 9) == [1]


def test_first_merges_by_hand():
    "aaabdaaabac: aa (4 pairs) -> 256; then ab and 256+a tie at 2, the smaller pair wins -> 257; then 256+257 -> 258."
    bpe = BPE.train("aaabdaaabac", 259)
    assert bpe.merges == [(97, 97), (97, 98), (256, 257)]
    assert bpe.encode("aaabdaaabac") == [258, ord("d"), 258, ord("a"), ord("c")]
    assert bpe.token_bytes(258) == b"aaab" and bpe.vocab_size == 259


def test_merges_never_cross_chunks():
    bpe = BPE.train("ab ab ab ab", 258)  # chunks: 'ab', ' ab' x3; so (a, b) is seen 4 times
    assert bpe.merges[0] == (97, 98)
    assert all(b" " not in bpe.token_bytes(i)[1:] for i in range(256, bpe.vocab_size))  # a space only leads a chunk


def test_too_small_a_text_says_how_many_merges_it_can_learn():
    with pytest.raises(NanoGPTError, match=r"teaches only 3 merges.*at most 259"):
        BPE.train("aaabdaaabac", 300)
    for bad in (255, 300.0, True, "300"):
        with pytest.raises(NanoGPTError, match="vocab_size"):
            BPE.train("abc", bad)


def test_incremental_training_matches_recounting():
    "The fast trainer's merges equal those of the textbook loop that recounts every pair after every merge."
    import regex
    from collections import Counter
    from nanogpt.data import GPT2_SPLIT
    text = TEXT + "Καλημέρα κόσμε, καλημέρα! こんにちは、こんにちは 🙂🙂 12345 12345\n\n"
    chunks = {tuple(c.encode()): n for c, n in Counter(regex.findall(GPT2_SPLIT, text)).items()}
    slow = []
    while True:
        counts = Counter()
        for ids, n in chunks.items():
            for p in zip(ids, ids[1:]):
                counts[p] += n
        if not counts or counts[best := max(counts, key=lambda p: (counts[p], -p[0], -p[1]))] < 2:
            break
        chunks = {tuple(merge_pair(list(ids), best, 256 + len(slow))): n for ids, n in chunks.items()}
        slow.append(best)
    assert BPE.train(text, 256 + len(slow)).merges == slow


# ---- encoding ----

def test_round_trip_on_any_text_and_bytes():
    bpe = BPE.train(TEXT, 256 + 60)
    rng = random.Random(0)
    samples = ["", " ", "\n\n\n", "naïve café", "Καλημέρα κόσμε", "日本語のテキスト", "🙂🚀👩‍👩‍👧", "a\u0000b\ud7ff\U0010ffff",
               "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(500)), TEXT]
    for s in samples:
        assert bpe.decode(bpe.encode(s)) == s
    raw = bytes(rng.randrange(256) for _ in range(1000))  # any bytes: not UTF-8, decoded with U+FFFD as Python does
    assert bpe.decode(list(raw)) == raw.decode("utf-8", errors="replace")
    assert len(bpe.encode(TEXT)) < len(TEXT.encode()) / 2  # it compresses the text it learned from


def test_same_tokens_as_tiktoken_gpt2():
    "GPT-2's merges, rebuilt from tiktoken's ranks, encode exactly as tiktoken does (compared as token bytes)."
    enc = gpt2_encoding()
    gpt2 = BPE.from_ranks({enc.decode_single_token_bytes(i): i for i in range(enc.n_vocab) if i != enc.eot_token})
    assert gpt2.vocab_size == 50256
    for s in (TEXT, "Καλημέρα κόσμε! こんにちは世界 🙂 naïve   café\n\n  x", "it's 1597... 'll 've\t\tdone"):
        assert [gpt2.token_bytes(i) for i in gpt2.encode(s)] == [enc.decode_single_token_bytes(i) for i in enc.encode_ordinary(s)]


def test_saved_and_loaded_gives_identical_ids(tmp_path):
    bpe = BPE.train(TEXT, 256 + 50)
    path = bpe.save(tmp_path / "bpe.json")
    saved = json.loads(path.read_text())
    assert saved["tokenizer"] == "bpe" and saved["vocab_size"] == 306
    assert all(isinstance(p, list) and len(p) == 2 for p in saved["merges"])  # plain JSON: lists of ints
    for again in (BPE.load(path), tokenizer_from_meta(saved)):
        assert again.merges == bpe.merges and again.encode(TEXT) == bpe.encode(TEXT)
    (tmp_path / "other.json").write_text(json.dumps({"tokenizer": "char", "itos": ["a"]}))
    with pytest.raises(NanoGPTError, match="not hold a BPE"):
        BPE.load(tmp_path / "other.json")
    with pytest.raises(NanoGPTError, match="merge 0 joins ids 256 and 97"):
        BPE([(256, 97)])


# ---- nanogpt-prepare --tokenizer=bpe:N, then train, sample and eval on it ----

def test_parse_tokenizer():
    assert parse_tokenizer("gpt2") is None and parse_tokenizer("bpe:257") == 257 and parse_tokenizer("bpe:65536") == 65536
    for spec, words in (("bpe", "expected gpt2"), ("char", "expected gpt2"), ("bpe:x", "whole number"),
                        ("bpe:-300", "whole number"), ("bpe:256", "from 257"), ("bpe:65537", "from 257")):
        with pytest.raises(NanoGPTError, match=words):
            parse_tokenizer(spec)


def test_prepare_train_sample_eval_with_own_bpe(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(f"{i}: {TEXT}" for i in range(30)), encoding="utf-8")  # 30 documents (paragraphs)
    run_cli("nanogpt-prepare", "mine", "--input", corpus, "--tokenizer=bpe:300", cwd=tmp_path, check=0)
    meta = load_meta(tmp_path / "data" / "mine")
    assert meta["tokenizer"] == "bpe" and meta["vocab_size"] == 300 and len(meta["merges"]) == 44
    tok = tokenizer_from_meta(json.loads(json.dumps(meta)))
    assert tok.decode(tok.encode(TEXT)) == TEXT
    out = tmp_path / "out"
    run_cli("nanogpt-train", *tiny(out, tmp_path / "data", dataset="mine", max_iters=3, always_save_checkpoint=True,
                                   eval_interval=3, block_size=16), cwd=tmp_path, check=0)
    proc = run_cli("nanogpt-sample", f"--out_dir={out}", "--max_new_tokens=20", "--num_samples=1", "--start=To be",
                   "--device=cpu", cwd=tmp_path, check=0)
    assert "To be" in proc.stdout
    # the checkpoint carries the merges: loading it gives the same tokenizer, and bits per byte reads the dataset with it
    from nanogpt.checkpoint import load_model
    from nanogpt.eval import bits_per_byte
    model, loaded = load_model(out, "cpu", torch.float32)
    assert loaded.kind == "bpe" and loaded.merges == tok.merges
    r = bits_per_byte(model, loaded, tmp_path / "data" / "mine", max_tokens=64)
    val = np.fromfile(tmp_path / "data" / "mine" / "val.bin", dtype=np.uint16)[:64]
    assert r["tokens"] == 63 and r["bytes"] == len(tok.decode(val[1:]).encode()) and r["bpb"] > 0  # predicted: all but the first
    # resuming the run on a dataset with another BPE (same kind, other merges) is refused
    from nanogpt.config import TrainConfig
    from nanogpt.train import build_model
    prepare("other", tmp_path / "data", corpus, tokenizer="bpe:290")
    with pytest.raises(NanoGPTError, match="another tokenizer"):
        build_model(TrainConfig(init_from="resume", out_dir=str(out), dataset="other"), load_meta(tmp_path / "data" / "other"))


def test_prepare_bad_bpe_sizes(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("to be or not to be\n\nthat is the question\n\n" * 3, encoding="utf-8")
    for spec, words in (("bpe:lots", "whole number"), ("bpe:100", "from 257"), ("bpe:70000", "uint16")):
        with pytest.raises(NanoGPTError, match=words):
            prepare("mine", tmp_path / "data", corpus, tokenizer=spec)
    with pytest.raises(NanoGPTError, match="fixed tokenizer"):
        prepare("shakespeare", tmp_path / "data", tokenizer="bpe:512")
    # the command line: one line that says how many tokens this corpus can give
    one_line_error(run_cli("nanogpt-prepare", "mine", "--input", corpus, "--tokenizer=bpe:5000", cwd=tmp_path),
                   "--tokenizer=bpe:5000", "too small", "teaches only", "ask for at most")
