"""parallel=fsdp (FSDP2) under torchrun with 2 CPU ranks on gloo, activation checkpointing, and the memory estimate."""
import pytest
import torch

from conftest import losses, one_line_error, run_cli, tiny
from nanogpt.checkpoint import load_checkpoint
from nanogpt.model import GPT, GPTConfig
from nanogpt.modern import build_gpt
from nanogpt.parallel import estimate_memory

MODERN = dict(pos_emb="rope", qk_norm=True, mlp_act="relu2", norm="rmsnorm", tie_head=False, zero_init=True)


def train(out, data_dir, ranks=1, **kw):
    "nanogpt-train on one process, or under torchrun on `ranks` CPU processes (gloo); returns the finished process."
    args = tiny(out, data_dir, device="cpu", **kw)
    if ranks == 1:
        return run_cli("nanogpt-train", *args, cwd=out.parent, check=0)
    return run_cli("torchrun", "--standalone", f"--nproc_per_node={ranks}", "-m", "nanogpt.train", *args, "--backend=gloo",
                   cwd=out.parent, check=0)


def weights(out):
    return load_checkpoint(out / "ckpt.pt")["model"]


def close(a: dict, b: dict, tol=1e-5) -> float:
    assert sorted(a) == sorted(b)
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


@pytest.mark.parametrize("optimizer", ["adamw", "muon"])
def test_fsdp_two_ranks_equal_one_process(tmp_path, data_dir, optimizer):
    "Same global batch (2 micro-steps: one per rank, or both on one process): the same losses and weights."
    kw = dict(max_iters=3, eval_interval=3, gradient_accumulation_steps=2, optimizer=optimizer,
              **(MODERN if optimizer == "muon" else {}))
    train(tmp_path / "single", data_dir, **kw)
    proc = train(tmp_path / "fsdp", data_dir, ranks=2, parallel="fsdp", **kw)
    assert "2 process(es) x 1 micro-steps" in proc.stdout and "memory per device, estimated peak" in proc.stdout
    single, fsdp = losses(tmp_path / "single"), losses(tmp_path / "fsdp")
    assert sorted(fsdp) == [0, 1, 2] and all(abs(single[i] - fsdp[i]) <= 1e-5 for i in single), (single, fsdp)
    assert close(weights(tmp_path / "single"), weights(tmp_path / "fsdp")) <= 1e-5
    # ckpt.pt is one file of whole weights with clean names: the sample command loads it, no process group needed
    proc = run_cli("nanogpt-sample", f"--out_dir={tmp_path / 'fsdp'}", "--max_new_tokens=20", "--num_samples=1",
                   "--start=ROMEO:", cwd=tmp_path, check=0)
    assert "ROMEO:" in proc.stdout


def test_fsdp_stop_and_resume_is_exact(tmp_path, data_dir):
    "8 iterations at once, or 4 then a resume to 8, all under FSDP with dropout: bit for bit the same."
    kw = dict(dropout=0.1, eval_interval=4, always_save_checkpoint=True, gradient_accumulation_steps=4, parallel="fsdp")
    train(tmp_path / "full", data_dir, ranks=2, max_iters=8, **kw)
    train(tmp_path / "split", data_dir, ranks=2, max_iters=4, **kw)
    proc = train(tmp_path / "split", data_dir, ranks=2, max_iters=8, init_from="resume", **kw)
    assert "from resume at iteration 4" in proc.stdout
    full, split = losses(tmp_path / "full"), losses(tmp_path / "split")
    assert sorted(split) == list(range(8)) and split == full
    a, b = weights(tmp_path / "full"), weights(tmp_path / "split")
    assert all(torch.equal(a[k], b[k]) for k in a)


LAYOUTS = {  # saved by -> resumed by: (ranks, parallel) for the first 4 iterations, then for the last 4
    "fsdp to one process": ((2, "fsdp"), (1, "ddp")), "ddp to fsdp": ((2, "ddp"), (2, "fsdp"))}


@pytest.mark.parametrize("layout", LAYOUTS)  # two tests, so that `pytest -n 2` can run them side by side
def test_resume_across_layouts(tmp_path, data_dir, layout):
    "A run saved by 2 FSDP ranks resumes on one process, and one saved by 2 DDP ranks resumes under FSDP."
    (ranks, parallel), (ranks2, parallel2) = LAYOUTS[layout]
    kw = dict(eval_interval=4, always_save_checkpoint=True, gradient_accumulation_steps=2)
    train(tmp_path / "ref", data_dir, max_iters=8, **kw)  # one process throughout
    ref = losses(tmp_path / "ref")
    train(tmp_path / "run", data_dir, ranks=ranks, max_iters=4, parallel=parallel, **kw)
    proc = train(tmp_path / "run", data_dir, ranks=ranks2, max_iters=8, init_from="resume", parallel=parallel2, **kw)
    if ranks2 != ranks:  # the one thing that cannot carry over: RNG streams
        assert f"saved with {ranks} processes, resuming with {ranks2}" in proc.stdout
    got = losses(tmp_path / "run")
    assert sorted(got) == list(range(8)) and all(abs(got[i] - ref[i]) <= 1e-5 for i in ref), (layout, got, ref)
    assert close(weights(tmp_path / "run"), weights(tmp_path / "ref")) <= 1e-5


def test_compiled_fsdp_with_activation_checkpointing(tmp_path, data_dir):
    "torch.compile over the FSDP model, recomputing activations: the losses of one uncompiled process."
    kw = dict(max_iters=2, eval_interval=2, gradient_accumulation_steps=2)
    train(tmp_path / "single", data_dir, **kw)
    train(tmp_path / "fsdp", data_dir, ranks=2, parallel="fsdp", compile=True, activation_checkpointing=True, **kw)
    single, fsdp = losses(tmp_path / "single"), losses(tmp_path / "fsdp")
    assert sorted(fsdp) == [0, 1] and all(abs(single[i] - fsdp[i]) <= 1e-5 for i in single), (single, fsdp)


@pytest.mark.parametrize("switches", [{}, MODERN], ids=["gpt2", "modern"])
def test_activation_checkpointing_gives_the_same_gradients(switches):
    "Recomputing each block in backward (dropout masks replayed) gives the gradients of keeping everything."
    grads = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        m = build_gpt(dict(block_size=16, vocab_size=65, n_layer=3, n_head=2, n_embd=32, dropout=0.1, **switches)).train()
        m.checkpointing = checkpointing
        x, y = torch.randint(0, 65, (4, 16)), torch.randint(0, 65, (4, 16))
        _, loss = m(x, y)
        loss.backward()
        grads.append({n: p.grad.clone() for n, p in m.named_parameters()})
    assert all(torch.allclose(grads[0][n], grads[1][n], atol=1e-7, rtol=1e-6) for n in grads[0])


def test_memory_estimate_arithmetic():
    cfg = GPTConfig(block_size=256, vocab_size=50304, n_layer=12, n_head=12, n_embd=768)  # GPT-2 124M's shape
    with torch.device("meta"):
        P = sum(p.numel() for p in GPT(cfg).parameters())
    m = estimate_memory(cfg, 8)
    assert m["weights"] + m["gradients"] + m["optimizer"] == 16 * P  # fp32 AdamW: 4 + 4 + 8 bytes a parameter
    assert m["peak"] > m["weights"] + m["gradients"] + m["optimizer"]  # the step holds them all, and more
    sharded = estimate_memory(cfg, 8, world=4, sharded=True)
    assert sharded["gradients"] == m["gradients"] / 4 and sharded["optimizer"] == m["optimizer"] / 4
    assert m["weights"] / 4 < sharded["weights"] < m["weights"]  # a quarter, plus the gathered root and two blocks
    assert estimate_memory(cfg, 8, world=4)["gradients"] == 2 * m["gradients"]  # DDP's buckets
    assert sharded["peak"] < m["peak"]
    recompute = estimate_memory(cfg, 8, checkpointing=True)
    assert recompute["activations"] < m["activations"] and recompute["weights"] == m["weights"]
    assert recompute["peak"] < m["peak"]
    assert estimate_memory(cfg, 16)["activations"] == pytest.approx(2 * m["activations"])  # linear in the batch
    muon = estimate_memory(cfg, 8, optimizer="muon")
    assert m["optimizer"] > muon["optimizer"] > m["optimizer"] / 2  # one momentum buffer for the blocks' matrices


def test_fsdp_bad_settings(tmp_path, data_dir):
    one_line_error(run_cli("nanogpt-train", *tiny(tmp_path / "a", data_dir, parallel="zero"), cwd=tmp_path), "parallel='zero'",
                   "ddp or fsdp")
    one_line_error(run_cli("nanogpt-train", *tiny(tmp_path / "b", data_dir, parallel="fsdp", dtype="float16"), cwd=tmp_path),
                   "parallel=fsdp", "bfloat16")
