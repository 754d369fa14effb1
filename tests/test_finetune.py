"""`--init_from=PATH_TO_RUN`: a new run in a new out_dir from another run's weights, with a fresh optimizer and schedule,
leaving the source run untouched; and what it refuses, in one line each."""
import hashlib
import json
from pathlib import Path

import torch

from conftest import one_line_error, run_cli, tiny
from nanogpt.checkpoint import load_checkpoint
from nanogpt.corpus import prepare


def hashes(folder) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(folder).iterdir()) if p.is_file()}


def evals(out) -> dict:
    return {r["iter"]: r["val_loss"] for r in map(json.loads, open(Path(out) / "log.jsonl")) if "val_loss" in r}


def test_new_run_from_a_run(tmp_path, data_dir, shakespeare_input):
    a, b = tmp_path / "a", tmp_path / "b"
    run_cli("nanogpt-train", *tiny(a, data_dir, max_iters=6, eval_interval=6, always_save_checkpoint=True, dropout=0.1),
            cwd=tmp_path, check=0)
    before = hashes(a)
    # another shape on the command line: the run's shape wins, and says so; another optimizer and schedule are fine
    proc = run_cli("nanogpt-train", *tiny(b, data_dir, init_from=a, max_iters=3, eval_interval=3, n_layer=3, optimizer="muon",
                                          always_save_checkpoint=True), cwd=tmp_path, check=0)
    assert f"from {a} at iteration 0" in proc.stdout
    assert f"the model's shape comes from the run in {a}: n_layer=2 (not 3)" in proc.stdout
    assert hashes(a) == before  # the source run: not a byte changed (log, checkpoints, plot)
    assert evals(b)[0] == evals(a)[6]  # B at iteration 0 is A's saved model: the same val loss to the last bit
    state_a, state_b = load_checkpoint(a / "state.pt"), load_checkpoint(b / "state.pt")
    assert state_b["iter_num"] == 3 and state_b["model_args"] == {**state_a["model_args"], "dropout": 0.0}  # B's dropout
    moments = state_b["optimizer"]["state"]
    assert {float(s["step"]) for s in moments.values() if "step" in s} == {3.0}  # AdamW: stepped by B's 3 iterations only
    assert "momentum_buffer" in moments["transformer.h.0.attn.c_attn.weight"]  # and Muon, which A never had: fresh
    assert state_b["optimizer"]["param_groups"][0]["initial_lr"] == 0.02
    assert sorted(r["iter"] for r in map(json.loads, open(b / "log.jsonl")) if "loss" in r) == [0, 1, 2]
    wa, wb = load_checkpoint(a / "ckpt.pt")["model"], load_checkpoint(b / "ckpt.pt")["model"]
    assert wa.keys() == wb.keys() and not all(torch.equal(wa[k], wb[k]) for k in wa)  # B trained on from there
    # B resumes as any run does
    run_cli("nanogpt-train", *tiny(b, data_dir, init_from="resume", max_iters=4, eval_interval=3, n_layer=3, optimizer="muon",
                                   always_save_checkpoint=True), cwd=tmp_path, check=0)
    assert load_checkpoint(b / "state.pt")["iter_num"] == 4 and hashes(a) == before


def test_new_run_from_a_run_refuses(tmp_path, data_dir, shakespeare_input):
    a = tmp_path / "a"
    run_cli("nanogpt-train", *tiny(a, data_dir, max_iters=2, eval_interval=2, always_save_checkpoint=True), cwd=tmp_path, check=0)
    before = hashes(a)
    # the source's own folder as out_dir: the fix is a resume
    one_line_error(run_cli("nanogpt-train", *tiny(a, data_dir, init_from=a, max_iters=4), cwd=tmp_path),
                   "own --out_dir", "--init_from=resume")
    # data in another vocabulary (GPT-2's BPE) than the run learned (65 characters)
    bpe = tmp_path / "bpe-data"
    prepare("shakespeare", bpe, input=shakespeare_input)
    one_line_error(run_cli("nanogpt-train", *tiny(tmp_path / "b", bpe, dataset="shakespeare", init_from=a, max_iters=2),
                           cwd=tmp_path), "another tokenizer", "char-level, 65 tokens", "gpt2")
    # a name of nothing, and a folder with no run in it
    one_line_error(run_cli("nanogpt-train", *tiny(tmp_path / "c", data_dir, init_from="gpt5"), cwd=tmp_path),
                   "init_from='gpt5'", "not a GPT-2 name", "nor a run folder")
    (tmp_path / "empty").mkdir()
    one_line_error(run_cli("nanogpt-train", *tiny(tmp_path / "c", data_dir, init_from=tmp_path / "empty"), cwd=tmp_path),
                   "no checkpoint")
    assert hashes(a) == before and not (tmp_path / "b").exists() and not (tmp_path / "c").exists()
