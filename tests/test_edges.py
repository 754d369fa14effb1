"""Edges of the data, sampling, parallel and eval boundaries: a file where a folder should be, HellaSwag files named by
$NANOGPT_HELLASWAG that are missing or not files, torchrun's variables set by hand, sampling values that are infinite,
NaN or not numbers, and eval batches too big for the memory there is. Each is one clear line (exit 1 from a command), and nothing is written."""
import json
import math
import os

import pytest
import torch

from conftest import each_gives_one_line, run_cli, tiny
from nanogpt.config import parse_config
from nanogpt.core import NanoGPTError
from nanogpt.data import CharTokenizer, write_dataset
from nanogpt.generate import check_sampling
from nanogpt.model import GPT, GPTConfig
import nanogpt.eval as ev

ITEM = {"ctx": "The chef cracks two eggs into the bowl and", "label": 0,
        "endings": ["whisks them with a fork.", "sings.", "throws the bowl away.", "paints the eggs blue."]}


def test_files_where_folders_should_be_and_missing_hellaswag_files(tmp_path, data_dir, tiny_gpt2):
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")
    holder = tmp_path / "holder"
    holder.mkdir()
    (holder / "shakespeare_char").write_text("a file named like the dataset\n")
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps(ITEM) + "\n")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # exists, is neither a file nor a folder: reading it would wait forever
    out = tmp_path / "out"
    hf = [f"--init_from={tiny_gpt2}", "--tasks=hellaswag", "--device=cpu"]
    cases = [  # (name, command, args, env, fragments)
        ("train, data_dir a file", "nanogpt-train", tiny(out, afile, max_iters=1), {},
         [f"{afile} is a file, not a folder", "give --data_dir a folder (default data)"]),
        ("train, data_dir below a file", "nanogpt-train", tiny(out, afile / "sub", max_iters=1), {},
         [f"{afile} is a file, not a folder", "--data_dir"]),
        ("train, the dataset a file", "nanogpt-train", tiny(out, holder, max_iters=1), {},
         [f"{holder / 'shakespeare_char'} is a file, not a folder", "--dataset"]),
        ("eval, data_dir a file", "nanogpt-eval", [f"--init_from={tiny_gpt2}", "--tasks=bpb", "--dataset=shakespeare_char",
                                                    f"--data_dir={afile}", "--device=cpu"], {},
         [f"{afile} is a file, not a folder", "--data_dir"]),
        ("eval, $NANOGPT_HELLASWAG missing", "nanogpt-eval", hf, {"NANOGPT_HELLASWAG": str(tmp_path / "nowhere.jsonl")},
         ["nowhere.jsonl ($NANOGPT_HELLASWAG) does not exist", "set NANOGPT_HELLASWAG to a copy", "unset it"]),
        ("eval, $NANOGPT_HELLASWAG a folder", "nanogpt-eval", hf, {"NANOGPT_HELLASWAG": str(tmp_path)},
         ["($NANOGPT_HELLASWAG) is a folder", "set NANOGPT_HELLASWAG"]),
        ("eval, $NANOGPT_HELLASWAG a pipe", "nanogpt-eval", hf, {"NANOGPT_HELLASWAG": str(fifo)},
         ["($NANOGPT_HELLASWAG) is not a regular file"]),
        ("eval, --hellaswag a folder", "nanogpt-eval", [*hf, f"--hellaswag={tmp_path}"], {"NANOGPT_HELLASWAG": str(items)},
         [f"HellaSwag file {tmp_path} is a folder", "--hellaswag PATH"]),
        ("train, $NANOGPT_HELLASWAG missing", "nanogpt-train",
         tiny(out, data_dir, max_iters=1, eval_hellaswag_interval=1, hellaswag_items=2),
         {"NANOGPT_HELLASWAG": str(tmp_path / "nowhere.jsonl")}, ["eval_hellaswag_interval=1", "($NANOGPT_HELLASWAG) does not exist"]),
        ("eval, RANK set by hand", "nanogpt-eval", [f"--init_from={tiny_gpt2}", "--device=cpu"],
         {"RANK": "0", "LOCAL_RANK": None, "WORLD_SIZE": None}, ["RANK='0', LOCAL_RANK='', WORLD_SIZE=''", "torchrun"]),
        ("train, WORLD_SIZE not a number", "nanogpt-train", tiny(out, data_dir, max_iters=1),
         {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "two"}, ["WORLD_SIZE='two'", "unset RANK"]),
        ("sample, infinite temperature", "nanogpt-sample", [f"--init_from={tiny_gpt2}", "--temperature=1e999"], {},
         ["temperature=inf", "finite"]),
        ("sample, a temperature that overflows", "nanogpt-sample", [f"--init_from={tiny_gpt2}", "--temperature=1e-50"], {},
         ["temperature=1e-50", "from 1e-6 up"]),
    ]
    before = {p: p.read_bytes() for p in (afile, holder / "shakespeare_char", items)}
    results = []
    for name, cmd, args, env, fragments in cases:
        proc = run_cli(cmd, *args, cwd=tmp_path, env={"NANOGPT_HELLASWAG": None, **env}, timeout=300)
        results.append((name, proc, fragments, not out.exists() and all(p.read_bytes() == b for p, b in before.items())))
    each_gives_one_line(results, len(cases), "a file was written or changed")


def test_unreadable_and_empty_hellaswag_sources(tmp_path, monkeypatch):
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps(ITEM) + "\n")

    def denied(self):
        raise PermissionError(13, "Permission denied")
    with monkeypatch.context() as m:  # root reads any file, so the refusal is played by the file system
        m.setattr(type(items), "read_bytes", denied)
        with pytest.raises(NanoGPTError, match=r"items.jsonl cannot be read \(Permission denied\); pass a hellaswag_val"):
            ev.hellaswag_items(items)
        m.setenv("NANOGPT_HELLASWAG", str(items))
        with pytest.raises(NanoGPTError, match=r"\(\$NANOGPT_HELLASWAG\) cannot be read.*set NANOGPT_HELLASWAG"):
            ev.hellaswag_items()
    monkeypatch.setenv("NANOGPT_HELLASWAG", str(items))
    assert ev.hellaswag_items() == [ITEM]  # the variable, when it names a good file, is used
    cache = tmp_path / "cache"
    (cache / "hellaswag_val.jsonl").mkdir(parents=True)  # the cached copy is a folder: not downloaded over, not read
    monkeypatch.setenv("NANOGPT_HELLASWAG", "")  # set but empty: as if unset, the cache is used
    with pytest.raises(NanoGPTError, match="hellaswag_val.jsonl, where HellaSwag is kept, is a folder; remove it"):
        ev.hellaswag_items(cache_dir=cache)


@pytest.mark.parametrize("kw, fragment", [
    (dict(temperature=math.inf), "temperature=inf"), (dict(temperature=math.nan), "temperature=nan"),
    (dict(temperature=-0.5), "temperature=-0.5"), (dict(temperature=1e-40), "temperature=1e-40"),
    (dict(temperature="hot"), "temperature=hot"), (dict(temperature=None), "temperature=None"),
    (dict(top_k=math.nan), "top_k=nan"), (dict(top_k=math.inf), "top_k=inf"), (dict(top_k="5"), "top_k=5"),
    (dict(top_k=2.5), "top_k=2.5"), (dict(top_k=True), "top_k=True"), (dict(top_p=math.nan), "top_p=nan"),
    (dict(top_p="0.9"), "top_p=0.9"), (dict(max_new_tokens=math.inf), "max_new_tokens=inf"),
    (dict(max_new_tokens=True), "max_new_tokens=True"), (dict(max_new_tokens=None), "max_new_tokens=None"),
])
def test_sampling_values_that_are_not_numbers_or_not_finite(kw, fragment):
    with pytest.raises(NanoGPTError) as e:
        check_sampling(**kw)
    assert str(e.value).startswith(fragment + ":") and "\n" not in str(e.value)


def test_sampling_values_at_the_edges_are_accepted():
    for kw in (dict(temperature=0), dict(temperature=1e-6), dict(temperature=1e6), dict(top_k=2.0), dict(top_p=1),
               dict(max_new_tokens=0)):
        check_sampling(**kw)  # no error


def char_data(tmp_path):
    "A small character dataset (a few hundred windows of 16) and an untrained model that reads it."
    text = "to be or not to be, that is the question. " * 200
    tok = CharTokenizer.from_text(text)
    ids = tok.encode(text)
    write_dataset(tmp_path / "d", tok, ids[:4000], ids[4000:])
    torch.manual_seed(0)
    return GPT(GPTConfig(block_size=16, vocab_size=tok.vocab_size, n_layer=1, n_head=2, n_embd=16)), tok, tmp_path / "d"


def test_an_eval_batch_larger_than_memory_is_refused_before_it_is_allocated(tmp_path, monkeypatch):
    model, tok, data = char_data(tmp_path)
    one = 16 * (tok.vocab_size * 12 + 16 * 16 * 4)  # the estimate for one window of 16 tokens in fp32
    monkeypatch.setattr(ev, "available_memory", lambda device: 4 * one)  # room for four windows
    assert ev.bits_per_byte(model, tok, data, batch_size=4)["tokens"] > 0
    with pytest.raises(NanoGPTError, match=r"a forward pass of 5 x 16 tokens needs about .* GiB on cpu \(estimated\), "
                                           r"but .* GiB are free: lower --batch_size$"):
        ev.bits_per_byte(model, tok, data, batch_size=5)
    small = tmp_path / "small"
    write_dataset(small, tok, tok.encode("to be or not"), tok.encode("to be or not to be"))  # 17 tokens: one window
    assert ev.bits_per_byte(model, tok, small, batch_size=64)["tokens"] == 17  # the batch is what the split holds
    monkeypatch.setattr(ev, "available_memory", lambda device: 1)
    with pytest.raises(NanoGPTError, match="a forward pass of 4 x "):  # HellaSwag: 4 rows an item, checked batch by batch
        ev.hellaswag(model, tok, [{"ctx": "to be", "label": 0, "endings": ["or", "not", "to", "be"]}])
    monkeypatch.setattr(ev, "available_memory", lambda device: None)  # a device it cannot measure: no check
    assert ev.hellaswag(model, tok, [{"ctx": "to be", "label": 0, "endings": ["or", "not", "to", "be"]}])["items"] == 1


def test_nanogpt_eval_refuses_a_batch_beyond_memory_and_sizes_it_by_the_work(tmp_path, tiny_gpt2, monkeypatch):
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(ITEM) + "\n" for _ in range(3)))
    args = [f"--init_from={tiny_gpt2}", "--tasks=hellaswag", f"--hellaswag={tmp_path / 'items.jsonl'}", "--device=cpu"]
    # three items make one batch of 12 rows, whatever --batch_size says: that fits this machine, and is scored
    proc = run_cli("nanogpt-eval", *args, "--batch_size=1000000", "--json", cwd=tmp_path, check=0)
    assert json.loads(proc.stdout)["hellaswag"]["items"] == 3
    monkeypatch.setattr(ev, "available_memory", lambda device: 10**6)  # a machine with 1 MB free
    with pytest.raises(NanoGPTError, match=r"a forward pass of 12 x \d+ tokens needs about .*: lower --batch_size$"):
        ev.run_eval(parse_config(ev.EvalConfig, [*args, "--batch_size=8"]))


def test_sums_over_ranks_use_the_group_given(tmp_path, monkeypatch):
    "Under NCCL the default group cannot add CPU tensors: the totals go over the gloo group the caller passes."
    model, tok, data = char_data(tmp_path)
    groups = []
    monkeypatch.setattr(ev.dist, "all_reduce", lambda t, group=None: groups.append(group))
    gloo = object()  # stands for Processes.cpu_group
    ev.bits_per_byte(model, tok, data, rank=0, world=2, group=gloo)
    ev.hellaswag(model, tok, [{"ctx": "to be", "label": 0, "endings": ["or", "not", "to", "be"]}], rank=0, world=2, group=gloo)
    assert groups == [gloo, gloo]
