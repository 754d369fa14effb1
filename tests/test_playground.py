"""The playground widgets driven from Python: streaming, stop, errors, the picker, and the views (token colours,
branching, the knobs' chart, attention maps, the logit lens). The browser test is test_playground_browser.py."""
import html
import math
import re

import pytest
import torch
from torch.nn import functional as F

from nanogpt.core import NanoGPTError
from nanogpt.data import BPETokenizer, CharTokenizer
from nanogpt.generate import context_window, sampling_probs
from nanogpt.model import GPT, GPTConfig, rope_angles, rotate
from nanogpt.playground import MAIN_JOB, Playground, app, find_runs, look_inside, read_out, token_pieces

MODERN = dict(pos_emb="rope", qk_norm=True, mlp_act="relu2", norm="rmsnorm", tie_head=False)


def count_forward_passes(model):
    "A list that gets one entry per call of the model (a forward pass of some text, or one decode step)."
    calls = []
    model.register_forward_pre_hook(lambda module, args: calls.append(args[0].shape))
    return calls


def generated(pg, prompt="ROMEO:", n=60, **knobs):
    pg.prompt.value, pg.max_new_tokens.value, pg.refresh = prompt, n, 0.0
    for name, value in knobs.items():
        getattr(pg, name).value = value
    pg.generate_button.click()
    pg.wait(60)
    assert pg.status.value.count(f"done: {n} tokens"), pg.status.value
    return pg


def chars():
    return CharTokenizer(sorted(set("\n !',-.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")))


# ---- streaming, stop, errors, picker (the playground before the views) ----

def test_playground_streams_in_order_without_blocking(run_dir):
    pg = Playground(run_dir, runs=[run_dir], device="cpu", dtype="float32")
    seen = []
    pg.output.observe(lambda c: seen.append("".join(t[0] for t in c["new"] if t[3] != "pg-next-tok")), names="tokens")
    pg.prompt.value, pg.max_new_tokens.value, pg.temperature.value, pg.top_k.value, pg.top_p.value = "ROMEO:", 300, 0.9, 20, 0.95
    pg.refresh = 0.0
    pg.generate_button.click()
    assert pg.busy and pg.generate_button.disabled and not pg.stop_button.disabled  # the click came back while generating
    pg.wait(60)
    assert not pg.busy
    assert len(seen) > 20 and all(b.startswith(a) for a, b in zip(seen, seen[1:]))
    assert len(pg.text) == len("ROMEO:") + 300 and pg.stats["tokens"] == 300
    assert pg.probs.value.count("pg-prob-row") >= 12 and "done: 300 tokens" in pg.status.value
    # the same settings and seed give the same text
    first = pg.text
    pg.generate_button.click(); pg.wait(60)
    assert pg.text == first


def test_playground_stop(run_dir):
    pg = Playground(run_dir, device="cpu", dtype="float32")
    pg.prompt.value, pg.max_new_tokens.value, pg.refresh = "\n", 2000, 0.0
    # click Stop from the output's observer, i.e. inside the generation, as soon as the first token shows: no clock
    pg.output.observe(lambda change: pg.stop_button.click() if len(change["new"]) > 1 else None, names="tokens")
    pg.generate_button.click()
    pg.wait(60)
    assert pg.stats["stopped"] and pg.stats["tokens"] <= 2 and "stopped:" in pg.status.value
    assert not pg.busy and not pg.generate_button.disabled and pg.stop_button.disabled
    assert pg.position == len(pg.ids) and "pg-prob-row" in pg.probs.value  # the views show the stopped text's end


def test_playground_errors_go_to_status(run_dir, tmp_path, monkeypatch):
    pg = Playground(run_dir, device="cpu")
    pg.prompt.value = "Ĥello"
    pg.generate_button.click()
    assert "pg-status-error" in pg.status.value and "Ĥ" in pg.status.value and not pg.busy
    pg.prompt.value = ""
    pg.next_button.click()
    assert "pg-status-error" in pg.status.value and "empty" in pg.status.value
    pg.prompt.value = "ROMEO:"
    pg.next_button.click(); pg.wait(60)
    pg.select(0)  # the first token has no prediction to show
    assert "pg-status-error" in pg.status.value and "first token" in pg.status.value
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    pg.picker.value = "gpt2"  # cannot download here: the status says so, no traceback
    assert "pg-status-error" in pg.status.value and "gpt2" in pg.status.value and pg.model is None
    pg.generate_button.click()
    assert "no model loaded" in pg.status.value


def test_playground_next_token_chart_and_picker(run_dir, tmp_path):
    other = tmp_path / "runs" / "second"
    other.mkdir(parents=True)
    (other / "ckpt.pt").write_bytes((run_dir / "ckpt.pt").read_bytes())
    runs = find_runs(tmp_path, run_dir.parent)
    assert set(runs) == {other.resolve(), run_dir.resolve()}
    pg = Playground(runs[0], runs=runs, device="cpu")
    labels = [label for label, _ in pg.picker.options]
    assert str(runs[1]) in labels and "gpt2-xl (pretrained)" in labels
    pg.picker.value = str(runs[1])
    assert "pg-status-ok" in pg.status.value and pg.model is not None
    pg.prompt.value, pg.temperature.value = "ROMEO:\nWhat", 0.0
    pg.next_button.click(); pg.wait(60)
    assert pg.text == "ROMEO:\nWhat" and pg.position == len("ROMEO:\nWhat")
    assert pg.probs.value.count("pg-prob-row") == 12 and pg.probs.value.count("cut: greedy") == 11


def test_app_without_runs_says_how_to_train(tmp_path):
    pg = app([tmp_path])
    assert MAIN_JOB in html.unescape(pg.status.value) and pg.model is None


def test_playground_with_a_model_object(run_dir):
    from nanogpt.checkpoint import load_model
    model, tokenizer = load_model(run_dir)
    with pytest.raises(NanoGPTError, match="needs its tokenizer"):
        Playground(model)
    pg = Playground(model, tokenizer)
    assert pg.picker.value == "__given__" and pg.model is not None


# ---- the views ----

@pytest.mark.parametrize("switches", [{}, {"pos_emb": "rope"}, MODERN], ids=["gpt2", "rope", "modern"])
def test_attention_maps_are_the_models_own_weights(switches):
    "look_inside keeps softmax(q kᵀ/√hs + causal mask) of each layer's own projections, and changes nothing it reads."
    torch.manual_seed(0)
    cfg = GPTConfig(block_size=16, vocab_size=40, n_layer=2, n_head=2, n_embd=16, **switches)
    model = GPT(cfg).eval()
    ids = torch.randint(0, 40, (1, 12))
    projections = []
    for block in model.transformer.h:
        block.attn.c_attn.register_forward_hook(lambda m, args, out: projections.append(out.detach()))
    inside = look_inside(model, ids[0].tolist())
    assert inside.attention.shape == (2, 2, 12, 12) and inside.stream.shape == (3, 12, 16)
    hs, T = 8, 12
    for layer, qkv in enumerate(projections):
        q, k, _ = (t.view(1, T, 2, hs).transpose(1, 2) for t in qkv.split(16, dim=2))
        if cfg.qk_norm:
            q, k = F.rms_norm(q, (hs,)), F.rms_norm(k, (hs,))
        if cfg.pos_emb == "rope":
            angles = rope_angles(torch.arange(T), hs)
            q, k = rotate(q, *angles), rotate(k, *angles)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(hs) + torch.full((T, T), float("-inf")).triu(1)
        torch.testing.assert_close(inside.attention[layer], F.softmax(scores, dim=-1)[0], atol=1e-6, rtol=1e-5)
    assert torch.allclose(inside.attention.sum(-1), torch.ones(2, 2, T), atol=1e-6)
    assert all(not b.attn.keep_weights and b.attn.weights is None for b in model.transformer.h)  # switched back off
    # the head read out of the last stream entry is the model's own output (the logit lens's last row)
    torch.testing.assert_close(read_out(model, inside.stream[-1]), model(ids)[0][0], atol=1e-5, rtol=1e-5)


def test_token_colours_tooltips_and_pieces(run_dir):
    pg = generated(Playground(run_dir, device="cpu", dtype="float32"), temperature=1.0, top_k=0)
    tokens = pg.output.tokens
    assert [t[3] for t in tokens] == ["pg-prompt-tok"] * 6 + ["pg-gen-tok"] * 60 + ["pg-next-tok"]
    assert all(t[1] == "" for t in tokens[:6]) and all(t[1].startswith("hsl(") for t in tokens[6:-1])
    # each generated token's tooltip gives its id, probability and rank under the distribution it was drawn from,
    # which the views recompute from the same context (for 65, past block_size 64: the halved window)
    for i in (6, 30, 65):
        pg.select(i); pg.wait(60)
        p = F.softmax(pg.logits, dim=-1)  # temperature 1, no top-k or top-p: the raw distribution
        token, (drawn_p, rank, chosen) = pg.ids[i], pg.drawn[i]
        assert abs(drawn_p - p[token]) < 1e-5 and rank == int((p > p[token]).sum()) + 1 and not chosen
        assert f"id {token}, drawn with p={drawn_p:.3f} (rank {rank})" in tokens[i][2]
        assert tokens[i][1] == f"hsl({120 * drawn_p:.0f}, 80%, 84%)"
    # BPE: a character split over two tokens shows once, on the token that completes it
    bpe = BPETokenizer()
    ids = bpe.encode("héllo 🦙 ok")
    pieces = token_pieces(bpe, ids)
    assert "".join(pieces) == "héllo 🦙 ok" and "" in pieces and "\ufffd" not in "".join(pieces)


def test_selecting_a_token_costs_at_most_one_forward_pass(run_dir):
    pg = generated(Playground(run_dir, device="cpu", dtype="float32"), n=100)
    calls = count_forward_passes(pg.model)
    n, bs = len(pg.ids), pg.model.config.block_size  # 106 tokens, 64: generation halved the window once
    start = n - context_window(n, bs)  # where the context of the next token starts
    assert pg.position == n and pg.inside.start == start > 0 and len(pg.inside.ids) == n - start
    assert n - 2 - context_window(n - 2, bs) == start  # token n - 2 was predicted from a context starting there too
    pg.output.selected = n - 2  # a click in the browser sets this
    pg.wait(60)
    assert len(calls) == 0 and pg.position == n - 2  # the same context: no forward pass at all
    pg.output.selected = 10
    pg.wait(60)
    assert len(calls) == 1 and calls[0] == (1, bs) and pg.inside.start == 0  # one pass, of the first block_size tokens
    assert "token 10," in html.unescape(pg.status.value)
    # layer and head pickers redraw the map from the kept weights: no forward pass, a different picture
    pictures = {pg.heatmap.value}
    for layer, head in ((1, -1), (1, 0), (0, 1)):
        pg.layer.value, pg.head.value = layer, head
        pg.wait(60)
        pictures.add(pg.heatmap.value)
        w = pg.inside.attention[layer].mean(0) if head < 0 else pg.inside.attention[layer, head]
        top = torch.topk(w[9], 1)
        assert f"at {int(top.indices[0])} ({float(top.values[0]):.2f})" in pg.attn_row.value
    assert len(pictures) == 4 and len(calls) == 1


def test_knobs_update_the_chart_without_generating(run_dir):
    pg = generated(Playground(run_dir, device="cpu", dtype="float32"), temperature=1.0, top_k=0)
    calls = count_forward_passes(pg.model)
    text, status = pg.text, pg.status.value

    def shown():
        "[rank, token, '', raw p, sampled p or 'cut: why'] per chart row"
        rows = re.findall(r'<tr class="pg-prob-row[^"]*"[^>]*>(.*?)</tr>', pg.probs.value)
        return [[html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", r)] for r in rows]

    before = pg.probs.value
    pg.top_k.value = 3
    assert pg.probs.value != before and pg.probs.value.count("cut: top-k") == 9
    expected = sampling_probs(pg.logits[None], temperature=1.0, top_k=3)[0]
    assert sorted(float(r[4]) for r in shown()[:3]) == sorted(round(float(p), 3) for p in expected[expected > 0])
    assert len(pg.alternatives.children) == 3
    pg.top_k.value, pg.top_p.value = 0, 0.2
    kept = int((sampling_probs(pg.logits[None], temperature=1.0, top_p=0.2)[0] > 0).sum())
    assert f"kept {kept} of " in pg.probs.value and "cut: top-p" in pg.probs.value
    pg.top_p.value, pg.temperature.value = 1.0, 0.0
    assert pg.probs.value.count("cut: greedy") == 11 and len(pg.alternatives.children) == 1
    pg.temperature.value = 2.0  # flatter: the top token's sampled p drops below its raw p
    raw, sampled = shown()[0][3:5]
    assert float(sampled) < float(raw)
    assert len(calls) == 0 and pg.text == text and pg.status.value == status and not pg.busy  # nothing generated


def test_branch_cuts_the_text_and_generates_on(run_dir):
    pg = generated(Playground(run_dir, device="cpu", dtype="float32"), n=40, temperature=1.0, top_k=0)
    i = 20
    pg.select(i); pg.wait(60)
    before = pg.ids[:i]
    labels = [b.description for b in pg.alternatives.children]
    other = next(b for b in pg.alternatives.children if b.button_style != "info")  # not the token that is there now
    other.click()  # cut at 20, put this token there, generate 40 more
    pg.wait(60)
    assert pg.ids[:i] == before and len(pg.ids) == i + 1 + 40 and "done: 40 tokens" in pg.status.value
    assert pg.drawn[i][2] and pg.output.tokens[i][3] == "pg-chosen-tok" and "chosen by you" in pg.output.tokens[i][2]
    assert other.description.startswith(pg.output.tokens[i][0].replace(" ", "␣").replace("\n", "⏎")), (labels, other.description)
    # and from the end ('next token'): the alternative is appended
    pg.select(len(pg.ids)); pg.wait(60)
    n = len(pg.ids)
    pg.alternatives.children[0].click(); pg.wait(60)
    assert len(pg.ids) == n + 1 + 40 and pg.drawn[n][2]
    pg.branch(3, pg.ids[3])  # from code, without selecting token 3: a message, nothing generated
    assert "select token 3 first" in pg.status.value and not pg.busy and len(pg.ids) == n + 1 + 40


def test_logit_lens_ends_at_the_models_prediction(run_dir):
    pg = generated(Playground(run_dir, device="cpu", dtype="float32"), temperature=1.0, top_k=0)
    pg.select(30); pg.wait(60)
    j = 29 - pg.inside.start
    lens = F.softmax(read_out(pg.model, pg.inside.stream[:, j]), dim=-1)
    assert lens.shape == (3, pg.model.config.vocab_size)  # embedding, block 1, block 2
    torch.testing.assert_close(lens[-1], F.softmax(pg.logits, dim=-1))
    rows = pg.lens.value.split('<tr class="pg-lens-row">')[1:]
    assert [r.split(">", 2)[1].split("<")[0] for r in rows] == ["embedding", "block 1", "block 2"]
    ranks = [int(r.split('class="pg-lens-rank">')[1].split("<")[0]) for r in rows]
    assert ranks == [int((p > p[pg.ids[30]]).sum()) + 1 for p in lens]


@pytest.mark.parametrize("kind", ["bpe", "modern"])
def test_views_work_for_bpe_and_modern_models(kind):
    torch.manual_seed(0)
    if kind == "bpe":
        model, tok, prompt = GPT(GPTConfig(block_size=32, vocab_size=50304, n_layer=2, n_head=2, n_embd=16)), BPETokenizer(), "Hello, wörld"
    else:
        model, tok, prompt = GPT(GPTConfig(block_size=16, vocab_size=66, n_layer=2, n_head=2, n_embd=16, **MODERN)), chars(), "ROMEO:"
    pg = Playground(model, tok, device="cpu", dtype="float32")
    generated(pg, prompt, n=40, temperature=1.0)  # past block_size: the rope model's cache slides
    assert pg.text.startswith(prompt) and len(pg.output.tokens) == len(pg.ids) + 1
    for i in (len(pg.ids), len(pg.ids) - 3, 5):
        pg.select(i); pg.wait(60)
        assert pg.position == i and pg.heatmap.value[:4] == b"\x89PNG" and "pg-lens-row" in pg.lens.value
        assert pg.probs.value.count("pg-prob-row") >= 12 and len(pg.alternatives.children) == 8
    pg.alternatives.children[2].click(); pg.wait(60)
    assert pg.drawn[5][2] and len(pg.ids) == 6 + 40
