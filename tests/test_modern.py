"""The modern switches and Muon: each trains, resumes bit-exactly, samples and plays; old checkpoints load and write the same
tokens; RoPE's promises; Muon under DDP."""
import contextlib
import io
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from conftest import losses, run_cli, tiny
from nanogpt.checkpoint import load_checkpoint, load_model, model_from_checkpoint
from nanogpt.config import TrainConfig, parse_config
from nanogpt.generate import generate, generate_stream
from nanogpt.model import GPT, GPTConfig
from nanogpt.modern import ModernConfig, ModernGPT, build_gpt, rope_angles, rotate
from nanogpt.optim import configure_optimizer
from nanogpt.playground import Playground
from nanogpt.train import train

MODERN = dict(pos_emb="rope", qk_norm=True, mlp_act="relu2", norm="rmsnorm", tie_head=False, zero_init=True)
SWITCHES = {  # name: settings; each differs from GPT-2 in one place, the last in all of them
    "rope": dict(pos_emb="rope"), "qk_norm": dict(qk_norm=True), "relu2": dict(mlp_act="relu2"),
    "rmsnorm": dict(norm="rmsnorm"), "untied, zero-init": dict(tie_head=False, zero_init=True),
    "muon": dict(optimizer="muon"), "all, with muon": dict(**MODERN, optimizer="muon"),
}


def settings(out, data_dir, **kw):
    "conftest's tiny run, evaluated and saved every 6 iterations, with dropout (so resume must restore its random state)."
    return tiny(out, data_dir, **{**dict(eval_interval=6, warmup_iters=3, lr_decay_iters=12, dropout=0.1, always_save_checkpoint=True,
                                         compile=False, device="cpu", reference=None), **kw})


def quiet_train(args):
    with contextlib.redirect_stdout(io.StringIO()):
        return train(parse_config(TrainConfig, args))


@pytest.mark.parametrize("name", SWITCHES)
def test_switch_trains_resumes_exactly_samples_and_plays(tmp_path, data_dir, name):
    kw = SWITCHES[name]
    quiet_train(settings(tmp_path / "full", data_dir, max_iters=12, **kw))
    quiet_train(settings(tmp_path / "split", data_dir, max_iters=6, **kw))
    quiet_train(settings(tmp_path / "split", data_dir, max_iters=12, init_from="resume", **kw))
    full, split = losses(tmp_path / "full"), losses(tmp_path / "split")
    assert sorted(split) == list(range(12)) and split == full  # bit-identical after the restart
    a, b = (load_checkpoint(tmp_path / r / "ckpt.pt")["model"] for r in ("full", "split"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    model, tok = load_model(tmp_path / "split")  # the switches come back from the checkpoint
    for key, value in kw.items():
        if key != "optimizer":
            assert getattr(model.config, key) == value
    text = tok.decode(generate(model, torch.tensor([tok.encode("\n")]), 40, temperature=0)[0])
    assert len(text) == 41
    pg = Playground(tmp_path / "split", device="cpu", dtype="float32")
    pg.prompt.value, pg.max_new_tokens.value, pg.temperature.value, pg.refresh = "ROMEO:", 20, 0.0, 0.0
    pg.generate_button.click()
    pg.wait(60)
    assert pg.stats["tokens"] == 20 and "done: 20 tokens" in pg.status.value


def test_default_switches_are_gpt2_and_keep_its_init():
    "The defaults build GPT-2's layout: the same seed gives the model chapter's GPT, weights, names and logits."
    shape = dict(block_size=16, vocab_size=65, n_layer=2, n_head=2, n_embd=16)
    torch.manual_seed(0)
    m, after_modern = ModernGPT(ModernConfig(**shape)), torch.rand(1)
    torch.manual_seed(0)
    gpt2, after_gpt2 = GPT(GPTConfig(**shape)), torch.rand(1)
    assert list(m.state_dict()) == list(gpt2.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), gpt2.state_dict().values()))
    assert torch.equal(after_modern, after_gpt2)  # the same random draws consumed: what follows (dropout, data) is the same
    x = torch.randint(0, 65, (2, 16))
    assert torch.equal(m(x)[0], gpt2(x)[0])
    assert "transformer.wpe.weight" in m.state_dict() and m.lm_head.weight is m.transformer.wte.weight
    assert list(m.state_dict())[:2] == ["transformer.wte.weight", "transformer.wpe.weight"]  # the order resume relies on
    modern = ModernGPT(ModernConfig(**shape, **MODERN))
    assert "transformer.wpe.weight" not in modern.state_dict() and modern.lm_head.weight is not modern.transformer.wte.weight
    assert all(p.abs().sum() == 0 for n, p in modern.named_parameters() if n.endswith("c_proj.weight") or n == "lm_head.weight")
    assert not any("ln_" in n for n, _ in modern.named_parameters())  # RMSNorm without parameters


def test_rope_scores_depend_only_on_distance():
    torch.manual_seed(0)
    q, k = torch.randn(1, 2, 8, 16), torch.randn(1, 2, 8, 16)
    def scores(start):
        cos, sin = rope_angles(torch.arange(start, start + 8), 16)
        return rotate(q, cos, sin) @ rotate(k, cos, sin).transpose(-2, -1)
    torch.testing.assert_close(scores(0), scores(1000), atol=1e-3, rtol=1e-4)
    cos, sin = rope_angles(torch.arange(8), 16)
    torch.testing.assert_close(rotate(q, cos, sin).norm(dim=-1), q.norm(dim=-1))  # a rotation keeps lengths
    assert not torch.allclose(scores(0), q @ k.transpose(-2, -1), atol=1e-2)  # but does change the scores


def sharpened(model):
    "Random matrices of size 0.3 instead of GPT-2's 0.02 (or zeros): confident, varied logits, so greedy choices are not near-ties."
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0, 0.3)
    return model


@pytest.mark.parametrize("kw", [dict(pos_emb="rope"), MODERN], ids=["rope", "all switches"])
def test_rope_cache_slides_and_equals_sliding_window_recompute(kw):
    torch.manual_seed(0)
    m = sharpened(ModernGPT(ModernConfig(block_size=16, vocab_size=65, n_layer=2, n_head=4, n_embd=32, **kw)).eval())
    prompt = torch.randint(0, 65, (2, 5))
    n = 4 * 16  # well past the context: the ring wraps three times
    steps = [list(generate_stream(m, prompt, n, temperature=0, use_cache=c)) for c in (True, False)]
    assert all(torch.equal(a[0], b[0]) for a, b in zip(*steps))  # greedy, token for token
    assert len({int(t[0][0, 0]) for t in steps[0]}) > 5  # a varied text, not one token repeated
    assert max((a[1] - b[1]).abs().max().item() for a, b in zip(*steps)) < 1e-4


def test_muon_groups_and_update_is_nearly_orthogonal():
    torch.manual_seed(0)
    m = ModernGPT(ModernConfig(block_size=16, vocab_size=65, n_layer=2, n_head=2, n_embd=32, **MODERN))
    opt = configure_optimizer(m, 0.0, 1e-3, optimizer="muon", muon_lr=0.02)
    muon, adamw = opt.optimizers
    in_muon = {id(p) for g in muon.param_groups for p in g["params"]}
    names = {n for n, p in m.named_parameters() if id(p) in in_muon}
    assert names == {n for n, p in m.named_parameters() if p.dim() == 2 and ".h." in n}  # the blocks' matrices only
    assert len(opt.param_groups) == 3 and sum(len(g["params"]) for g in opt.param_groups) == len(list(m.parameters()))
    w = m.transformer.h[0].attn.c_attn.weight  # (96, 32)
    before = w.detach().clone()
    for p in m.parameters():
        p.grad = torch.randn_like(p)
    opt.step()
    update = (w.detach() - before) / 0.02 / max(1, w.size(0) / w.size(1)) ** 0.5  # undo lr and Muon's shape scaling
    s = torch.linalg.svdvals(update)
    assert 0.5 < s.min() and s.max() < 1.3, s  # Newton-Schulz: every singular value near 1


def test_muon_ddp_two_ranks_equals_one_process(tmp_path, data_dir):
    common = dict(max_iters=3, gradient_accumulation_steps=2, optimizer="muon", **MODERN, dropout=0.0, eval_interval=3)
    run_cli("nanogpt-train", *settings(tmp_path / "single", data_dir, **common), cwd=tmp_path, check=0)
    run_cli("torchrun", "--standalone", "--nproc_per_node=2", "-m", "nanogpt.train",
            *settings(tmp_path / "ddp", data_dir, backend="gloo", **common), cwd=tmp_path, check=0)
    single, ddp = losses(tmp_path / "single"), losses(tmp_path / "ddp")
    assert sorted(ddp) == [0, 1, 2] and all(abs(single[i] - ddp[i]) <= 1e-5 for i in single), (single, ddp)
    a, b = (load_checkpoint(tmp_path / r / "ckpt.pt")["model"] for r in ("single", "ddp"))
    assert max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-5


def test_hf_export_names_the_switch_that_prevents_it(tmp_path):
    from nanogpt.core import NanoGPTError
    from nanogpt.model import export_hf
    m = ModernGPT(ModernConfig(block_size=8, vocab_size=65, n_layer=1, n_head=2, n_embd=16, mlp_act="relu2"))
    with pytest.raises(NanoGPTError, match=r"mlp_act='relu2' \(GPT-2: 'gelu'\)"):
        export_hf(m, tmp_path / "hf")
    assert not (tmp_path / "hf").exists()
    export_hf(ModernGPT(ModernConfig(block_size=8, vocab_size=65, n_layer=1, n_head=2, n_embd=16, zero_init=True)), tmp_path / "ok")
    export_hf(build_gpt(dict(block_size=8, vocab_size=65, n_layer=1, n_head=2, n_embd=16)), tmp_path / "ok2")  # GPT-2 switches


def test_compiled_decode_of_a_rope_model_equals_eager():
    "The compiled decode step (static shapes) slides the ring too: the same greedy text as the eager loop."
    torch.manual_seed(0)
    m = sharpened(ModernGPT(ModernConfig(block_size=16, vocab_size=65, n_layer=2, n_head=4, n_embd=32, **MODERN)).eval())
    prompt = torch.randint(0, 65, (1, 5))
    eager = generate(m, prompt, 40, temperature=0)
    assert torch.equal(generate(m, prompt, 40, temperature=0, compile=True), eager)


OLD = Path(__file__).parent / "fixtures" / "old_checkpoints.pt"  # written by the code before the modern module existed


@pytest.mark.parametrize("name", ["gpt2", "modern"])
def test_checkpoints_of_the_old_layout_load_and_write_the_same_tokens(name):
    "Weights and model args saved when GPTConfig still held the switches: the same keys, the same greedy and sampled text."
    old = torch.load(OLD, weights_only=True)[name]
    model = model_from_checkpoint({"model": old["model"], "model_args": old["model_args"]}).eval()
    assert list(model.state_dict()) == list(old["model"]) and asdict(model.config) == old["model_args"]
    assert torch.equal(generate(model, old["prompt"], 40, temperature=0), old["greedy"])  # past block_size=16 too
    sampled = generate(model, old["prompt"], 40, temperature=0.8, top_k=20, generator=torch.Generator().manual_seed(1))
    assert torch.equal(sampled, old["sampled"])


@pytest.mark.parametrize("kw", [{}, *SWITCHES.values()], ids=["gpt2", *SWITCHES])
def test_every_switch_keeps_its_state_dict_keys_and_round_trips_through_build_gpt(kw):
    kw = {k: v for k, v in kw.items() if k != "optimizer"}
    shape = dict(block_size=16, vocab_size=65, n_layer=2, n_head=2, n_embd=16)
    m = build_gpt({**shape, **kw})
    pos, norms = "transformer.wpe.weight", [n for n in m.state_dict() if ".ln_" in n or "ln_f" in n]
    assert (pos in m.state_dict()) == (kw.get("pos_emb", "learned") == "learned")
    assert bool(norms) == (kw.get("norm", "layernorm") == "layernorm")
    again = build_gpt(asdict(m.config))
    again.load_state_dict(m.state_dict())  # strict: the same keys
    x = torch.randint(0, 65, (2, 16))
    assert torch.equal(again.eval()(x)[0], m.eval()(x)[0])
    assert ModernConfig(**shape, **kw).beyond_gpt2() == {k: (v, getattr(ModernConfig(), k)) for k, v in kw.items() if k != "zero_init"}


def test_bad_switches_and_model_args_are_clear_errors():
    from nanogpt.core import NanoGPTError
    with pytest.raises(NanoGPTError, match="pos_emb='alibi': use learned or rope"):
        build_gpt(dict(pos_emb="alibi"))
    with pytest.raises(NanoGPTError, match="head size n_embd/n_head = 15 must be even"):
        build_gpt(dict(n_embd=30, n_head=2, pos_emb="rope"))
    with pytest.raises(NanoGPTError, match="unknown model args n_kv_head"):
        build_gpt(dict(n_kv_head=2))
