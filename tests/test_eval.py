"""nanogpt-eval: HellaSwag scores equal an independent computation with transformers' GPT-2, sharding over 2 ranks
changes no total, bits per byte of a character model on text of known bytes; and every bad input is a one-line error:
HellaSwag files (missing, a folder, not UTF-8, empty, bad items), a dataset or tokenizer the model cannot read, sizes
and splits that cannot be measured, checkpoints of another version."""
import json
import math
import re

import pytest
import torch
import transformers

from conftest import one_line_error, run_cli
from nanogpt.checkpoint import load_model, save_run
from nanogpt.core import NanoGPTError
from nanogpt.data import BPE, BPETokenizer, CharTokenizer, write_dataset
from nanogpt.eval import bits_per_byte, ending_rows, hellaswag, hellaswag_items, score_rows, verdicts
from nanogpt.model import GPT, GPTConfig

ITEMS = [  # HellaSwag's format, written here: the real file cannot be downloaded offline
    {"ctx": "A man is sitting on a roof. he", "label": 3, "endings": [
        "is using wrap to wrap a pair of skis.", "is ripping level tiles off.", "is holding a rubik's cube.",
        "starts pulling up roofing on a roof."]},
    {"ctx": "The chef cracks two eggs into the bowl and", "label": 0, "endings": [
        "whisks them with a fork.", "throws the bowl out of the window into the garden below.", "sings.",
        "paints the eggs blue before putting them back into the fridge."]},
    {"ctx": "She ties her running shoes, steps outside, and", "label": 1, "endings": [
        "reads.", "starts jogging down the street.", "flies to the moon on a bicycle made of cheese.", "sleeps."]},
]


def test_scores_equal_transformers_own_gpt2(tiny_gpt2):
    model, tok = load_model(tiny_gpt2)
    hf = transformers.GPT2LMHeadModel.from_pretrained(tiny_gpt2).eval()
    for item in ITEMS:
        rows = ending_rows(item, tok, model.config.block_size)
        sums, counts = score_rows(model, rows)  # one padded batch of 4 rows
        want = []
        for ids, n in rows:  # each ending alone, unpadded, through transformers' own model
            with torch.no_grad():
                logp = torch.log_softmax(hf(torch.tensor([ids])).logits[0].double(), -1)
            want.append(sum(logp[p - 1, ids[p]].item() for p in range(len(ids) - n, len(ids))))
            assert n == len(tok.encode(" " + item["endings"][len(want) - 1]))
        assert torch.allclose(sums, torch.tensor(want, dtype=torch.float64), atol=1e-5), (sums, want)
        assert counts.tolist() == [n for _, n in rows]
        picked = int(torch.tensor(want).argmax()), int((torch.tensor(want) / counts).argmax())
        assert verdicts(sums, counts, item["label"]) == (picked[0] == item["label"], picked[1] == item["label"])
    assert verdicts([-10.0, -12.0, -30.0, -40.0], [2, 4, 10, 20], 3) == (False, True)  # acc and acc_norm differ


def test_two_ranks_give_the_totals_of_one(tmp_path, tiny_gpt2, shakespeare_input):
    from nanogpt.corpus import prepare
    prepare("shakespeare", tmp_path / "data", input=shakespeare_input)
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in ITEMS * 3))
    args = [f"--init_from={tiny_gpt2}", "--dataset=shakespeare", f"--data_dir={tmp_path / 'data'}", "--max_tokens=3000",
            f"--hellaswag={tmp_path / 'items.jsonl'}", "--device=cpu", "--json"]
    one = json.loads(run_cli("nanogpt-eval", *args, cwd=tmp_path, check=0).stdout)
    proc = run_cli("torchrun", "--standalone", "--nproc_per_node=2", "-m", "nanogpt.eval", *args, cwd=tmp_path, check=0)
    two = json.loads(proc.stdout)  # rank 0 alone prints
    assert two["world"] == 2 and one["hellaswag"]["items"] == two["hellaswag"]["items"] == 9
    for key in ("acc", "acc_norm"):
        assert one["hellaswag"][key] == two["hellaswag"][key]
    assert (one["bpb"]["tokens"], one["bpb"]["bytes"]) == (two["bpb"]["tokens"], two["bpb"]["bytes"])
    assert abs(one["bpb"]["bpb"] - two["bpb"]["bpb"]) < 1e-6


def test_bits_per_byte_of_a_character_model(tmp_path):
    text = "café crème, naïve résumé; " * 200  # 2-byte characters: bytes are not characters here
    tok = CharTokenizer.from_text(text)
    ids = tok.encode(text)
    write_dataset(tmp_path / "d", tok, ids[:4000], ids[4000:])
    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=16, vocab_size=tok.vocab_size, n_layer=1, n_head=2, n_embd=16)).eval()
    got = bits_per_byte(model, tok, tmp_path / "d", "val", batch_size=3)
    val = torch.tensor(ids[4000:])
    with torch.no_grad():  # the same windows, one at a time, with the model's own mean loss
        nats = sum(model(val[s:s + 17][None, :-1], val[s:s + 17][None, 1:])[1].item() * (len(val[s:s + 17]) - 1)
                   for s in range(0, len(val) - 1, 16))
    nbytes = len(text[4001:].encode())  # every val character but the first is predicted
    assert got["tokens"] == len(val) - 1 and got["bytes"] == nbytes
    assert abs(got["bpb"] - nats / (math.log(2) * nbytes)) < 1e-6


def test_bad_hellaswag_files_are_errors(tmp_path, monkeypatch):
    good = json.dumps(ITEMS[0])
    bad_lines = {  # line 2 of each file: what is wrong with it
        "label 7": json.dumps({**ITEMS[1], "label": 7}), "label true": json.dumps({**ITEMS[1], "label": True}),
        "label 1.0": json.dumps({**ITEMS[1], "label": 1.0}), "label '1'": json.dumps({**ITEMS[1], "label": "1"}),
        "no label": json.dumps({k: v for k, v in ITEMS[1].items() if k != "label"}),
        "empty ctx": json.dumps({**ITEMS[1], "ctx": " "}), "3 endings": json.dumps({**ITEMS[1], "endings": ["a", "b", "c"]}),
        "empty ending": json.dumps({**ITEMS[1], "endings": ["a", "", "c", "d"]}), "a list": "[1, 2]", "not JSON": "{ctx",
    }
    for why, line in bad_lines.items():
        bad = tmp_path / "bad.jsonl"
        bad.write_text(good + "\n" + line + "\n")
        with pytest.raises(NanoGPTError, match="bad.jsonl, line 2: not a HellaSwag item"):
            hellaswag_items(bad)
    (tmp_path / "latin1.jsonl").write_bytes(good.encode() + b"\n" + json.dumps(ITEMS[1]).replace("chef", "chef\xe9").encode("latin-1"))
    with pytest.raises(NanoGPTError, match="latin1.jsonl, line 2: not a HellaSwag item \\(not UTF-8 text\\)"):
        hellaswag_items(tmp_path / "latin1.jsonl")
    (tmp_path / "blank.jsonl").write_text("\n  \n")
    for path, what in ((tmp_path / "blank.jsonl", "holds no items"), (tmp_path / "nowhere.jsonl", "does not exist"),
                       (tmp_path, "is a folder")):
        with pytest.raises(NanoGPTError, match=f"HellaSwag file {re.escape(str(path))} {what}.*NANOGPT_HELLASWAG"):
            hellaswag_items(path)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "hellaswag_val.jsonl").write_text("".join(json.dumps(i) + "\n" for i in ITEMS))
    (cache / "hellaswag_val.sha256").write_text("0" * 64 + "\n")  # recorded at download; the file changed since
    monkeypatch.delenv("NANOGPT_HELLASWAG", raising=False)
    with pytest.raises(NanoGPTError, match="SHA-256 changed"):
        hellaswag_items(cache_dir=cache)
    (cache / "hellaswag_val.sha256").unlink()
    with pytest.raises(NanoGPTError, match="holds 3 items, not HellaSwag's 10,042"):
        hellaswag_items(cache_dir=cache)
    proc = run_cli("nanogpt-eval", "--init_from=gpt2", "--tasks=hellaswag", f"--hellaswag={tmp_path / 'bad.jsonl'}",
                   cwd=tmp_path, env={"HF_HUB_OFFLINE": "1"})
    one_line_error(proc, "gpt2")  # no weights offline: a clear error before any file is read


def char_run(tmp_path, text, vocab_size=None):
    "A prepared character dataset `tiny` of `text` and an untrained run on it (vocab_size: the model's, else the text's)."
    tok = CharTokenizer.from_text(text)
    ids = tok.encode(text)
    write_dataset(tmp_path / "data" / "tiny", tok, ids[:len(ids) // 2], ids[len(ids) // 2:], dataset="tiny")
    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=16, vocab_size=vocab_size or tok.vocab_size, n_layer=1, n_head=2, n_embd=16))
    save_run(tmp_path / "run", model, tok.meta(), {"dataset": "tiny"}, 1, {}, val_loss=3.0)
    return model, tok


def test_bits_per_byte_refuses_a_dataset_tokenized_otherwise(tmp_path):
    text = "the quick brown fox jumps over the lazy dog. " * 40
    model, tok = char_run(tmp_path, text)
    bpe_model = GPT(GPTConfig(block_size=16, vocab_size=260, n_layer=1, n_head=2, n_embd=16))
    cases = {  # what the dataset is tokenized with, the model and its tokenizer, what the error says
        "backwards": (CharTokenizer(tok.itos[::-1]), model, tok, "another alphabet"),  # same characters, other ids
        "wider": (CharTokenizer.from_text(text + "!"), model, tok, "1 character(s) the model does not have: '!'"),
        "bpe": (BPE.train(text, 258), model, tok, "bpe tokens, not char"),
        "other merges": (BPE.train(text, 260), bpe_model, BPE.train(text, 259), "another BPE"),
    }
    for name, (other, m, t, why) in cases.items():
        write_dataset(tmp_path / "data" / "other", other, other.encode(text[:500]), other.encode(text[500:900]))
        with pytest.raises(NanoGPTError, match=f"dataset .*other is tokenized otherwise than the model reads \\({re.escape(why)}"):
            bits_per_byte(m, t, tmp_path / "data" / "other")
    proc = run_cli("nanogpt-eval", "--out_dir=run", "--dataset=other", "--device=cpu", cwd=tmp_path)  # the last: a BPE
    one_line_error(proc, "tokenized otherwise", "bpe tokens, not char", "--dataset")


def test_a_model_smaller_than_its_vocabulary_is_refused(tmp_path, tiny_gpt2):
    model, tok = char_run(tmp_path, "abcdefghij klmnop. " * 50, vocab_size=5)
    with pytest.raises(NanoGPTError, match="the tokenizer has 18 tokens but the model only 5"):
        bits_per_byte(model, tok, tmp_path / "data" / "tiny")
    one_line_error(run_cli("nanogpt-eval", "--out_dir=run", "--device=cpu", cwd=tmp_path), "5", "18")  # as the run's files say
    small = GPT(GPTConfig(block_size=16, vocab_size=1000, n_layer=1, n_head=2, n_embd=16))
    with pytest.raises(NanoGPTError, match="50,257 tokens but the model only 1,000"):
        hellaswag(small, BPETokenizer(), ITEMS)


def test_sizes_and_splits_that_cannot_be_measured(tmp_path, tiny_gpt2):
    model, tok = char_run(tmp_path, "to be or not to be. " * 50)
    for args, fragments in ((["--max_tokens=1"], ["1 token(s)", "--max_tokens=0"]),
                            (["--split=test"], ["split='test'", "--split=val"])):
        proc = run_cli("nanogpt-eval", "--out_dir=run", "--device=cpu", *args, cwd=tmp_path)
        one_line_error(proc, *fragments)
    assert bits_per_byte(model, tok, tmp_path / "data" / "tiny", max_tokens=2)["tokens"] == 1  # the smallest that works
    gpt2, bpe = load_model(tiny_gpt2)
    write_dataset(tmp_path / "eot", bpe, [bpe.eot] * 8, [bpe.eot] * 8)  # end-of-text markers only: no bytes of text
    with pytest.raises(NanoGPTError, match="decode to no text"):
        bits_per_byte(gpt2, bpe, tmp_path / "eot")
    assert hellaswag(gpt2, bpe, [])["items"] == 0  # a rank's empty share while training: nothing to add, no error


def test_checkpoints_that_cannot_be_read_are_one_line(tmp_path):
    char_run(tmp_path, "to be or not to be. " * 50)
    ckpt = torch.load(tmp_path / "run" / "ckpt.pt", weights_only=True)
    for name, bad in {"newer": {**ckpt, "model_args": {**ckpt["model_args"], "n_experts": 8}},  # a later version's model
                      "older": {k: v for k, v in ckpt.items() if k != "meta"}}.items():  # a format before meta was saved
        (tmp_path / name).mkdir()
        torch.save(bad, tmp_path / name / "ckpt.pt")
    (tmp_path / "wider").mkdir()  # weights of another shape than its model_args say
    torch.save({**ckpt, "model_args": {**ckpt["model_args"], "n_embd": 32}}, tmp_path / "wider" / "ckpt.pt")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "ckpt.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "folder" / "ckpt.pt").mkdir(parents=True)  # a folder where the file should be
    (tmp_path / "a_file").write_text("not a run")
    for out_dir, fragments in (("newer", ["n_experts", "this version"]), ("older", ["lacks meta"]),
                               ("wider", ["do not fit"]), ("junk", ["not a readable checkpoint"]),
                               ("folder", ["is a folder"]), ("a_file", ["is a file"])):
        one_line_error(run_cli("nanogpt-eval", f"--out_dir={out_dir}", "--device=cpu", cwd=tmp_path), *fragments)


def test_hellaswag_counts(tiny_gpt2):
    model, tok = load_model(tiny_gpt2)
    r = hellaswag(model, tok, ITEMS, batch_items=2)
    assert r["items"] == 3 and 0 <= r["acc"] <= 1 and 0 <= r["acc_norm"] <= 1


def test_first_download_into_a_new_folder_fails_cleanly_offline(tmp_path, monkeypatch):
    import nanogpt.eval as E
    monkeypatch.delenv("NANOGPT_HELLASWAG", raising=False)
    monkeypatch.setattr(E, "HELLASWAG_URL", "http://127.0.0.1:9/hellaswag_val.jsonl")  # nothing listens there
    with pytest.raises(NanoGPTError, match="could not download .*--hellaswag PATH"):
        hellaswag_items(cache_dir=tmp_path / "not" / "yet" / "hellaswag")  # the folder is made, the download fails
    assert not list((tmp_path / "not" / "yet" / "hellaswag").iterdir())  # and nothing half-written is left
