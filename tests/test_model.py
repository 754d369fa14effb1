"""The model and generate chapters' promises that need more room than a notebook cell: GPT-2 interop, generation edge
cases, the compiled decode step, and the package's layout."""
import json
import os
from pathlib import Path

import pytest
import torch

from nanogpt.bench import generate_nanogpt
from nanogpt.core import NanoGPTError
from nanogpt.generate import KVCache, compiled_decode, context_window, generate, generate_stream, sample_logits
from nanogpt.model import GPT, GPTConfig, export_hf, from_pretrained

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    "A tiny random GPT-2 saved by transformers itself: stands in for the hub checkpoints offline."
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=64, vocab_size=50257, n_positions=128)
    d = tmp_path_factory.mktemp("hf-gpt2")
    transformers.GPT2LMHeadModel(cfg).save_pretrained(d)
    return d


def hf_logits(d, ids):
    m = transformers.GPT2LMHeadModel.from_pretrained(d).eval()
    with torch.no_grad():
        return m(ids).logits


def test_from_pretrained_matches_transformers(hf_dir):
    ours = from_pretrained(str(hf_dir)).eval()
    ids = torch.randint(0, 50257, (3, 128), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        diff = (ours(ids)[0] - hf_logits(hf_dir, ids)).abs().max().item()
    assert diff <= 1e-5, diff
    assert ours.config.block_size == 128 and ours.config.bias and ours.config.vocab_size == 50257


def test_from_pretrained_dropout_override_only(hf_dir):
    assert from_pretrained(str(hf_dir), dropout=0.1).config.dropout == 0.1
    with pytest.raises(ValueError, match="only override dropout, not n_layer"):
        from_pretrained(str(hf_dir), n_layer=3)


def test_from_pretrained_bad_sources(tmp_path):
    with pytest.raises(ValueError, match="gpt2, gpt2-medium, gpt2-large, gpt2-xl"):
        from_pretrained("gpt-2")
    with pytest.raises(ValueError, match="no config.json"):
        from_pretrained(str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(ValueError, match="'llama' model, not GPT-2"):
        from_pretrained(str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2", "activation_function": "relu"}))
    with pytest.raises(ValueError, match="not supported"):
        from_pretrained(str(tmp_path))


def test_hub_name_offline_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache: nothing to fall back on
    with pytest.raises(NanoGPTError, match="openai-community/gpt2.*network"):
        from_pretrained("gpt2")


def bpe_tokenizer_from_tiktoken_cache():
    "GPT-2's HF tokenizer rebuilt offline from tiktoken's cached encoder.json / vocab.bpe (same tables)."
    cache = os.environ.get("TIKTOKEN_CACHE_DIR")
    files = {p.stat().st_size: p for p in Path(cache).iterdir()} if cache else {}
    enc = next((p for p in files.values() if p.read_bytes()[:1] == b"{"), None)
    bpe = next((p for p in files.values() if p.read_text(errors="ignore").startswith("#version")), None)
    if not (enc and bpe):
        pytest.skip("GPT-2 tokenizer files not available offline (TIKTOKEN_CACHE_DIR)")
    merges = [tuple(l.split()) for l in bpe.read_text().splitlines()[1:] if l.strip()]
    return transformers.GPT2TokenizerFast(vocab=json.loads(enc.read_text()), merges=merges)


def test_export_runs_in_transformers_pipeline(tmp_path):
    from nanogpt.data import BPETokenizer
    torch.manual_seed(3)
    model = GPT(GPTConfig(block_size=64, vocab_size=50304, n_layer=2, n_head=2, n_embd=64, bias=False)).eval()
    d = export_hf(model, tmp_path / "export")
    ids = torch.randint(0, 50257, (2, 64))
    with torch.no_grad():
        assert (model(ids)[0] - hf_logits(d, ids)).abs().max().item() <= 1e-5
    hf_tok = bpe_tokenizer_from_tiktoken_cache()
    pipe = transformers.pipeline("text-generation", model=str(d), tokenizer=hf_tok, device="cpu")
    prompt = "To be, or not to be"
    out = pipe(prompt, max_new_tokens=12, do_sample=False)[0]["generated_text"]
    bpe = BPETokenizer()
    ours = generate(model, torch.tensor([bpe.encode(prompt)]), 12, temperature=0)
    assert out == bpe.decode(ours[0])


@pytest.mark.parametrize("prompt_len", [5, 40])  # a prompt longer than the context starts in a cropped window
def test_cache_equals_recompute_batched(prompt_len):
    torch.manual_seed(4)
    model = GPT(GPTConfig(block_size=24, vocab_size=50, n_layer=2, n_head=2, n_embd=32, dropout=0.3))
    for p in model.parameters():  # sharpen the random model so greedy choices are far from ties
        p.data.mul_(3)
    model.train()
    prompt = torch.randint(0, 50, (3, prompt_len))
    a = generate(model, prompt, 3 * 24, temperature=0)
    b = generate(model, prompt, 3 * 24, temperature=0, use_cache=False)
    assert torch.equal(a, b) and a.shape == (3, prompt_len + 72)
    assert model.training  # restored after generating in eval mode


def test_stream_yields_tokens_and_distributions():
    torch.manual_seed(5)
    model = GPT(GPTConfig(block_size=16, vocab_size=30, n_layer=1, n_head=1, n_embd=16))
    steps = list(generate_stream(model, torch.zeros(2, 1, dtype=torch.long), 7, top_k=3))
    assert len(steps) == 7
    for token, probs in steps:
        assert token.shape == (2, 1) and probs.shape == (2, 30)
        assert (probs > 0).sum(-1).le(3).all() and probs.gather(1, token).gt(0).all()
    assert generate(model, torch.zeros(1, 4, dtype=torch.long), 0).shape == (1, 4)


def test_generation_bad_input():
    model = GPT(GPTConfig(block_size=8, vocab_size=10, n_layer=1, n_head=1, n_embd=8))
    ids = torch.zeros(1, 2, dtype=torch.long)
    for kw, frag in ((dict(top_k=0), "top_k=0"), (dict(top_k=2.5), "top_k=2.5"), (dict(temperature=-1), "temperature=-1"),
                     (dict(top_p=0), "top_p=0"), (dict(top_p=1.01), "top_p=1.01")):
        with pytest.raises(ValueError, match=frag):
            generate(model, ids, 3, **kw)
    with pytest.raises(ValueError, match="max_new_tokens=-2"):
        generate(model, ids, -2)
    with pytest.raises(ValueError, match="length>=1"):
        generate(model, torch.zeros(1, 0, dtype=torch.long), 3)
    # top_k above the vocabulary means no limit
    g = lambda k: sample_logits(torch.randn(2, 10, generator=torch.Generator().manual_seed(0)), top_k=k,
                                generator=torch.Generator().manual_seed(1))[0]
    assert torch.equal(g(1000), g(None))


def test_context_window_policy():
    assert [context_window(n, 4) for n in range(1, 12)] == [1, 2, 3, 4, 2, 3, 4, 2, 3, 4, 2]
    assert all(1 <= context_window(n, 1) <= 1 for n in range(1, 5))
    assert max(context_window(n, 256) for n in range(1, 2000)) == 256
    assert min(context_window(n, 256) for n in range(257, 2000)) == 128


def test_compiled_decode_equals_eager_inside_and_beyond_the_context():
    "The static-shape decode step under torch.compile writes the same greedy text, token for token, past block_size too."
    torch.manual_seed(6)
    model = GPT(GPTConfig(block_size=16, vocab_size=40, n_layer=2, n_head=2, n_embd=32))
    for p in model.parameters():
        p.data.mul_(3)  # sharpen the random model so greedy choices are far from ties
    prompt = torch.randint(0, 40, (2, 3))
    eager = generate(model, prompt, 40, temperature=0)
    compiled = generate(model, prompt, 40, temperature=0, compile=True)
    assert torch.equal(eager, compiled)
    with torch.no_grad():  # weights that change after compiling are picked up (the step is compiled again)
        model.lm_head.weight.mul_(-1)
    assert torch.equal(generate(model, prompt, 10, temperature=0, compile=True), generate(model, prompt, 10, temperature=0))


def test_compiled_step_is_rebuilt_when_a_weight_or_a_switch_changes():
    "The compiled step skips dynamo's per-token checks of the modules, so its own fingerprint must notice every change."
    model = GPT(GPTConfig(block_size=8, vocab_size=10, n_layer=1, n_head=1, n_embd=8)).eval()
    step = compiled_decode(model)
    assert compiled_decode(model) is step  # nothing changed: the same compiled step
    model.transformer.h[0].attn.fused = False  # a switch the traced forward read
    assert compiled_decode(model) is not step
    step = compiled_decode(model)
    with torch.no_grad():
        model.lm_head.weight.add_(1)  # a weight changed in place (its version moves)
    assert compiled_decode(model) is not step
    step = compiled_decode(model)
    hook = model.transformer.h[0].attn.probs.register_forward_hook(lambda m, i, o: None)  # a hook (the playground's)
    assert compiled_decode(model) is not step
    step = compiled_decode(model)
    hook.remove()
    assert compiled_decode(model) is not step
    step = compiled_decode(model)
    model.half()  # a dtype
    assert compiled_decode(model) is not step


def test_sampling_draws_what_multinomial_draws_and_diverged_models_fail_clearly():
    "The exponential race draws the same tokens as torch.multinomial from the same generator; NaN logits are an error."
    logits = torch.randn(300, 50, generator=torch.Generator().manual_seed(0)) * 4
    for kw in (dict(), dict(temperature=0.7), dict(top_k=5), dict(top_p=0.9)):
        tokens, probs = sample_logits(logits, generator=torch.Generator().manual_seed(2), **kw)
        assert torch.equal(tokens, torch.multinomial(probs, 1, generator=torch.Generator().manual_seed(2)))
        assert probs.gather(1, tokens).gt(0).all()  # never a token the knobs removed
    # the whole loop (noise drawn 64 tokens at a time, cache or not) writes the text nanoGPT's loop writes with the seed
    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=160, vocab_size=30, n_layer=2, n_head=2, n_embd=16)).eval()
    prompt = torch.randint(0, 30, (2, 5))
    ours = generate(model, prompt, 150, generator=torch.Generator().manual_seed(4))
    assert torch.equal(ours, generate_nanogpt(model, prompt, 150, generator=torch.Generator().manual_seed(4)))
    assert torch.equal(ours, generate(model, prompt, 150, generator=torch.Generator().manual_seed(4), use_cache=False))
    model = GPT(GPTConfig(block_size=8, vocab_size=10, n_layer=1, n_head=1, n_embd=8))
    with torch.no_grad():
        model.lm_head.weight.fill_(float("nan"))
    with pytest.raises(ValueError, match="NaN or infinite"):
        generate(model, torch.zeros(1, 2, dtype=torch.long), 3)


def test_attention_weights_come_out_through_the_probs_hook_point():
    "The playground's way in: a forward hook on `attn.probs` (no parameters) sees the explicit path's softmaxed weights."
    torch.manual_seed(7)
    model = GPT(GPTConfig(block_size=8, vocab_size=20, n_layer=2, n_head=2, n_embd=16)).eval()
    assert not any(".probs" in k for k in model.state_dict())
    seen = []
    hooks = [b.attn.probs.register_forward_hook(lambda m, i, out: seen.append(out.detach())) for b in model.transformer.h]
    x = torch.randint(0, 20, (3, 6))
    fused = model(x)[0]
    assert seen == []  # the fused kernel never shows its weights
    explicit = model.use_fused_attention(False)(x)[0]
    torch.testing.assert_close(explicit, fused, atol=1e-5, rtol=1e-5)
    assert [w.shape for w in seen] == [(3, 2, 6, 6)] * 2
    for w in seen:
        torch.testing.assert_close(w.sum(-1), torch.ones(3, 2, 6))  # each row a distribution
        assert w.triu(1).abs().max() == 0  # over the past only
    first = model.transformer.h[0]  # by hand, layer 0
    q, k, _ = first.attn.heads(first.ln_1(model.transformer.wte(x) + model.transformer.wpe(torch.arange(6))))
    by_hand = (q @ k.transpose(-2, -1) / 8 ** 0.5).masked_fill(torch.ones(6, 6).tril() == 0, float("-inf")).softmax(-1)
    torch.testing.assert_close(seen[0], by_hand)
    for h in hooks:
        h.remove()


def test_positions_are_passed_explicitly():
    "The model reads the positions it is given (no cursor on the cache); GPT-2 refuses more tokens than its context."
    torch.manual_seed(8)
    model = GPT(GPTConfig(block_size=8, vocab_size=20, n_layer=2, n_head=2, n_embd=16)).eval()
    x = torch.randint(0, 20, (2, 8))
    with torch.no_grad():
        assert torch.equal(model(x, input_pos=torch.arange(8))[0], model(x)[0])
        assert not torch.equal(model(x[:, 4:], input_pos=torch.arange(4, 8))[0], model(x[:, 4:])[0])  # other positions
        cache = KVCache(model.config, 2)
        assert not hasattr(cache, "pos")
        model(x[:, :5], kv_cache=cache, input_pos=torch.arange(5))  # prefill 0..4
        for p in range(5, 8):  # then one token at a time, each told its position
            last = model(x[:, p:p + 1], kv_cache=cache, input_pos=torch.tensor([p]))[0]
        torch.testing.assert_close(last[:, -1], model(x)[0][:, -1], atol=1e-5, rtol=1e-5)
    with pytest.raises(NanoGPTError, match="9 tokens do not fit the context of 8"):
        model(torch.zeros(1, 9, dtype=torch.long))
