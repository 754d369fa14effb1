"""nanogpt-bench on the CPU: a smoke test of its table and JSON (speed is the chapter's business, never asserted here)."""
import json

from conftest import one_line_error, run_cli


def test_bench_json_fields(tmp_path):
    proc = run_cli("nanogpt-bench", "--model=tiny", "--variants=fp32,bf16", "--warmup=1", "--iters=3", "--generate=16",
                   "--json", cwd=tmp_path, check=0)
    r = json.loads(proc.stdout)
    assert {"device", "device_name", "torch", "model", "params", "batch_size", "block_size", "train", "generate"} <= set(r)
    assert r["device"] == "cpu" and r["model"] == "tiny" and r["params"] > 0
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


def test_bench_table_profile_and_real_data(tmp_path, shakespeare_input):
    proc = run_cli("nanogpt-bench", "--model=tiny", "--variants=fp32", "--iters=2", "--profile", "--trace=t/trace.json",
                   "--dataset=shakespeare_char", cwd=tmp_path, check=None)
    one_line_error(proc, "nanogpt-prepare shakespeare_char")  # not prepared yet
    run_cli("nanogpt-prepare", "shakespeare_char", "--input", shakespeare_input, cwd=tmp_path, check=0)
    proc = run_cli("nanogpt-bench", "--model=tiny", "--variants=fp32", "--iters=2", "--profile", "--trace=t/trace.json",
                   "--dataset=shakespeare_char", cwd=tmp_path, check=0)
    out = proc.stdout
    assert "tiny: 0.03M parameters, batch 4 x block 32, on cpu" in out
    header = next(l for l in out.splitlines() if l.startswith("variant"))
    assert header.split() == ["variant", "median", "ms", "min", "ms", "tokens/s", "MFU", "vs", "first", "warm-up", "s", "est.", "MB"]
    assert any(l.startswith("fp32 ") for l in out.splitlines())
    assert "profile of one step (fp32)" in out and "aten::" in out
    assert json.loads((tmp_path / "t" / "trace.json").read_text())["traceEvents"]


def test_bench_memory_beside_the_estimate(tmp_path):
    "--memory on a CPU: each variant's peak, measured in a fresh process, beside its estimate; the table shows both."
    proc = run_cli("nanogpt-bench", "--model=shakespeare_char_cpu", "--variants=fp32", "--warmup=1", "--iters=1",
                   "--memory", "--checkpointing=True", cwd=tmp_path, check=0)
    header, row = [l for l in proc.stdout.splitlines() if l.startswith(("variant", "fp32"))]
    assert header.split()[-4:] == ["est.", "MB", "peak", "MB"]
    estimate, peak = map(float, row.split()[-2:])
    assert estimate > 0 and peak > 0


def test_bench_bad_input(tmp_path):
    one_line_error(run_cli("nanogpt-bench", "--model=gpt5", cwd=tmp_path), "model='gpt5'", "shakespeare_char_cpu")
    one_line_error(run_cli("nanogpt-bench", "--variants=fp16", "--device=cpu", cwd=tmp_path), "needs a GPU")
    one_line_error(run_cli("nanogpt-bench", "--variants=int8", cwd=tmp_path), "variant 'int8'")
    one_line_error(run_cli("nanogpt-bench", "--model=tiny", "--generate=lots", cwd=tmp_path), "generate='lots'")
    one_line_error(run_cli("nanogpt-bench", "--iters=0", cwd=tmp_path), "iters=0")
