"""nanogpt-bench on the CPU: its table and JSON, the trainer's own step behind them, and its bad input (speed is the
chapter's business, never asserted here)."""
import json
from dataclasses import asdict

import pytest
import torch

from conftest import one_line_error, run_cli
from nanogpt.bench import (BENCH_MODELS, available_memory, bench_run, bench_settings, bench_train_step, check_fits,
                           random_dataset)
from nanogpt.core import NanoGPTError
from nanogpt.modern import ModernConfig, build_gpt
from nanogpt.step import train_step


def test_bench_json_fields(tmp_path):
    proc = run_cli("nanogpt-bench", "--model=tiny", "--variants=fp32,bf16", "--warmup=1", "--iters=3", "--generate=16",
                   "--json", cwd=tmp_path, check=0)
    r = json.loads(proc.stdout)
    assert {"device", "device_name", "torch", "model", "params", "batch_size", "block_size", "optimizer", "switches",
            "train", "generate"} <= set(r)
    assert r["device"] == "cpu" and r["model"] == "tiny" and r["params"] > 0
    assert r["optimizer"] == "adamw" and r["switches"] == {}  # GPT-2's architecture unless a switch is given
    assert [t["variant"] for t in r["train"]] == ["fp32", "bf16"]
    for t in r["train"]:
        assert {"median_ms", "min_ms", "tokens_per_s", "mfu", "speedup", "warmup_s", "peak_mem_mb", "estimate_mb"} <= set(t)
        assert t["estimate_mb"] > 0 and t["peak_mem_mb"] is None  # a CPU measures its peak only when asked (--memory)
        assert 0 < t["min_ms"] <= t["median_ms"] and 0 < t["mfu"] < 1 and t["tokens_per_s"] > 0
    base = r["train"][0]["median_ms"]
    assert all(abs(t["speedup"] - base / t["median_ms"]) < 1e-9 for t in r["train"])  # each against the first variant
    assert [(g["new_tokens"], g["path"], g["variant"]) for g in r["generate"]] == [
        (16, "nanogpt", "nanoGPT (fp32, recompute)"), (16, "cache", "fp32"), (16, "cache", "bf16")]
    nano = r["generate"][0]["tokens_per_s"]
    assert all(g["tokens_per_s"] > 0 and abs(g["speedup"] - g["tokens_per_s"] / nano) < 1e-9 for g in r["generate"])


def test_bench_muon_switches_ddp_and_accumulation(tmp_path):
    "--optimizer, the model switches, the trainer's DDP wrapper and accumulation reach the timed step (JSON stays clean)."
    proc = run_cli("nanogpt-bench", "--model=tiny", "--variants=fp32,fp32+ddp", "--warmup=1", "--iters=2", "--optimizer=muon",
                   "--pos_emb=rope", "--qk_norm=True", "--mlp_act=relu2", "--norm=rmsnorm", "--tie_head=False",
                   "--gradient_accumulation_steps=2", "--json", cwd=tmp_path, check=0)
    r = json.loads(proc.stdout)
    assert r["optimizer"] == "muon"
    assert r["switches"] == {"pos_emb": "rope", "qk_norm": True, "mlp_act": "relu2", "norm": "rmsnorm", "tie_head": False}
    assert [t["variant"] for t in r["train"]] == ["fp32", "fp32+ddp"]
    with torch.device("meta"):  # the model those switches describe, shapes only
        model = build_gpt(ModernConfig(**{**asdict(BENCH_MODELS["tiny"][0]), **r["switches"]}))
    assert r["params"] == model.num_params()
    for t in r["train"]:  # two micro-batches of 4 x 32 a step
        assert abs(t["tokens_per_s"] * t["median_ms"] / 1e3 - 2 * 4 * 32) < 1e-6


def test_the_bench_steps_as_the_trainer_does(tmp_path):
    "A step timed by the bench moves the weights exactly as the trainer's `train_step` does on a twin run."
    data = random_dataset(tmp_path / "random", 65, tokens=4096)
    cfg = bench_settings(BENCH_MODELS["tiny"][0], 4, data, device="cpu", dtype="float32", optimizer="muon",
                         gradient_accumulation_steps=2, grad_clip=0.5, pos_emb="rope", norm="rmsnorm")
    timed, twin = bench_run(cfg, "cpu"), bench_run(cfg, "cpu")
    assert timed.model.config.pos_emb == "rope" and timed.accum == 2 and timed.cfg.grad_clip == 0.5
    start = [p.detach().clone() for p in timed.model.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(start, twin.model.parameters()))  # the same seed: the same model
    bench_train_step(timed, warmup=1, iters=2)  # iterations 0, 1 and 2
    for it in range(3):
        train_step(twin, it, 1.0)
    moved = [not torch.equal(a, p) for a, p in zip(start, timed.model.parameters())]
    assert all(moved)
    for a, b in zip(timed.model.parameters(), twin.model.parameters()):
        assert torch.equal(a, b)


def test_bench_table_profile_and_real_data(tmp_path, shakespeare_input):
    proc = run_cli("nanogpt-bench", "--model=tiny", "--variants=fp32", "--iters=2", "--profile", "--trace=t/trace.json",
                   "--dataset=shakespeare_char", cwd=tmp_path, check=None)
    one_line_error(proc, "nanogpt-prepare shakespeare_char")  # not prepared yet
    assert not (tmp_path / "t" / "trace.json").exists()
    run_cli("nanogpt-prepare", "shakespeare_char", "--input", shakespeare_input, cwd=tmp_path, check=0)
    proc = run_cli("nanogpt-bench", "--model=tiny", "--variants=fp32", "--iters=2", "--profile", "--trace=t/trace.json",
                   "--dataset=shakespeare_char", cwd=tmp_path, check=0)
    out = proc.stdout
    assert "tiny: 0.03M parameters, batch 4 x block 32, on cpu" in out
    assert "the trainer's step: optimizer=adamw, GPT-2's architecture" in out
    header = next(l for l in out.splitlines() if l.startswith("variant"))
    assert header.split() == ["variant", "median", "ms", "min", "ms", "tokens/s", "MFU", "vs", "first", "warm-up", "s", "est.", "MB"]
    assert any(l.startswith("fp32 ") for l in out.splitlines())
    assert "profile of two eager fp32 steps" in out and "aten::" in out
    trace = tmp_path / "t" / "trace.json"
    assert f"Chrome trace written to {trace.resolve()}" in out  # the file it wrote, by its full path
    assert json.loads(trace.read_text())["traceEvents"]


def test_bench_memory_beside_the_estimate(tmp_path):
    "--memory on a CPU: each variant's peak, measured in a fresh process, beside its estimate; the table shows both."
    proc = run_cli("nanogpt-bench", "--model=shakespeare_char_cpu", "--variants=fp32", "--warmup=1", "--iters=1",
                   "--memory", "--checkpointing=True", cwd=tmp_path, check=0)
    header, row = [l for l in proc.stdout.splitlines() if l.startswith(("variant", "fp32"))]
    assert header.split()[-4:] == ["est.", "MB", "peak", "MB"]
    estimate, peak = map(float, row.split()[-2:])
    assert estimate > 0 and peak > 0


def test_a_size_that_cannot_fit_is_refused_before_allocating(tmp_path):
    free = available_memory("cpu")
    assert free is not None and 0 < free
    check_fits(free // 2, "cpu", "half of what is free")  # fits: nothing said
    with pytest.raises(NanoGPTError, match="GiB available"):
        check_fits(2 * free, "cpu", "twice what is free")
    proc = run_cli("nanogpt-bench", "--model=gpt2-xl", "--batch_size=100000", "--device=cpu", cwd=tmp_path)
    one_line_error(proc, "gpt2-xl at batch 100000 x 1024", "GiB available", "--batch_size")
    proc = run_cli("nanogpt-bench", "--model=gpt2-xl", "--train=False", "--generate=8", "--block_size=100000000",
                   "--device=cpu", cwd=tmp_path)
    one_line_error(proc, "generating with a", "weights alone", "GiB available")


def test_bench_bad_input(tmp_path):
    one_line_error(run_cli("nanogpt-bench", "--model=gpt5", cwd=tmp_path), "model='gpt5'", "shakespeare_char_cpu")
    one_line_error(run_cli("nanogpt-bench", "--variants=fp16", "--device=cpu", cwd=tmp_path), "needs a GPU")
    one_line_error(run_cli("nanogpt-bench", "--variants=int8", cwd=tmp_path), "variant 'int8'")
    one_line_error(run_cli("nanogpt-bench", "--variants=fp32+compile+ddp", cwd=tmp_path), "fp32+ddp+compile")
    one_line_error(run_cli("nanogpt-bench", "--model=tiny", "--generate=lots", cwd=tmp_path), "generate='lots'")
    one_line_error(run_cli("nanogpt-bench", "--iters=0", cwd=tmp_path), "iters=0")
    one_line_error(run_cli("nanogpt-bench", "--model=tiny", "--optimizer=sgd", cwd=tmp_path), "optimizer='sgd'", "muon")
    one_line_error(run_cli("nanogpt-bench", "--model=tiny", "--pos_emb=alibi", cwd=tmp_path), "pos_emb='alibi'", "rope")
    one_line_error(run_cli("nanogpt-bench", "--model=tiny", "--trace=t.json", cwd=tmp_path), "trace='t.json'", "--profile")
    (tmp_path / "folder").mkdir()
    one_line_error(run_cli("nanogpt-bench", "--model=tiny", "--profile", "--trace=folder", cwd=tmp_path), "is a folder")
    assert not (tmp_path / "bench-trace.json").exists()  # refused before anything ran or was written
