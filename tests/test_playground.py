"""The playground in two layers. Most tests drive the Session in plain Python (tokens, how each was drawn, the
selection, branching, the analysis); a few click the Playground's widgets, whose handlers run in plain Python too.
The browser test is test_playground_browser.py."""
import html
import inspect
import math
import re

import pytest
import torch
from torch.nn import functional as F

from nanogpt.core import NanoGPTError
from nanogpt.data import BPETokenizer, CharTokenizer
from nanogpt.generate import context_window, sampling_probs
from nanogpt.model import GPT, GPTConfig
from nanogpt.modern import ModernConfig, ModernGPT, rope_angles, rotate
from nanogpt.playground import (MAIN_JOB, Focus, Inside, Playground, Session, Token, app, drawn, find_runs, look_inside,
                                read_out, token_pieces)

MODERN = dict(pos_emb="rope", qk_norm=True, mlp_act="relu2", norm="rmsnorm", tie_head=False)
RAW = dict(temperature=1.0, top_k=None, top_p=None)  # sampling from the model's own distribution


def count_forward_passes(model):
    "A list that gets one entry per call of the model (a forward pass of some text, or one decode step)."
    calls = []
    model.register_forward_pre_hook(lambda module, args: calls.append(args[0].shape))
    return calls


def chars():
    return CharTokenizer(sorted(set("\n !',-.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")))


def session(run_dir) -> Session:
    s = Session(device="cpu", dtype="float32")
    s.load(run_dir)
    return s


def generated(s: Session, prompt="ROMEO:", n=60, seed=1337, **settings) -> Session:
    s.set_prompt(prompt)
    new = list(s.generate(n, {**RAW, **settings}, seed))
    assert len(new) == n and s.tokens[-n:] == new
    return s


# ---- the session: tokens and how each got there ----

def test_the_session_uses_no_widgets():
    "The session layer (and what it calls here) names no widget module: it runs and is tested in plain Python."
    for obj in (Inside, look_inside, read_out, token_pieces, Token, drawn, Focus, Session):
        assert not re.search(r"\bW\.|ipywidgets|anywidget|traitlets", inspect.getsource(obj)), obj.__name__


def test_session_records_how_each_token_was_drawn(run_dir):
    s = generated(session(run_dir), n=60)
    assert [t.p is None for t in s.tokens] == [True] * 6 + [False] * 60 and not any(t.chosen for t in s.tokens)
    assert all(t.settings == RAW and 0 < t.p <= 1 and t.rank >= 1 for t in s.tokens[6:])
    assert s.text.startswith("ROMEO:") and len(s.text) == 66
    # each token's probability and rank are those of the distribution it was drawn from, which selecting it recomputes
    # from the same context (for 65, past block_size 64: generation's halved window)
    for i in (6, 30, 65):
        f = s.select(i)
        p = f.distribution(RAW)[0]
        t = s.tokens[i]
        assert abs(t.p - p[t.id]) < 1e-5 and t.rank == int((p > p[t.id]).sum()) + 1 and f.actual == t.id
    assert s.tokens[30].how == f"drawn with p={s.tokens[30].p:.3f} (rank {s.tokens[30].rank})"
    # the same settings and seed give the same tokens; the settings are kept per token
    again = generated(session(run_dir), n=60)
    assert again.tokens == s.tokens
    cooler = generated(session(run_dir), n=20, temperature=0.5, top_k=5)
    assert all(t.settings == dict(temperature=0.5, top_k=5, top_p=None) and t.rank <= 5 for t in cooler.tokens[6:])


def test_session_generation_is_a_stream(run_dir):
    "The consumer decides when to stop: the text holds exactly the tokens it was given."
    s = session(run_dir)
    s.set_prompt("\n")
    stream = s.generate(2000, RAW)
    first = [next(stream) for _ in range(3)]
    stream.close()
    assert s.tokens[1:] == first and len(s.tokens) == 4


def test_session_errors(run_dir, tmp_path, monkeypatch):
    s = Session(device="cpu")
    with pytest.raises(NanoGPTError, match="no model loaded"):
        s.set_prompt("ROMEO:")
    s.load(run_dir)
    with pytest.raises(NanoGPTError, match="Ĥ"):
        s.set_prompt("Ĥello")
    with pytest.raises(NanoGPTError, match="empty"):
        s.set_prompt("")
    s.set_prompt("ROMEO:")
    with pytest.raises(NanoGPTError, match="max_new_tokens=0"):
        s.generate(0, RAW)
    with pytest.raises(NanoGPTError, match="first token"):
        s.select(0)
    with pytest.raises(NanoGPTError, match="no token 9"):
        s.select(9)
    with pytest.raises(NanoGPTError, match="select token 3 first"):
        s.branch(3, 0, RAW)
    assert len(s.tokens) == 6 and s.focus is None  # nothing changed
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(Exception, match="gpt2"):
        s.load("gpt2")  # cannot download here
    assert s.model is None


def test_selecting_a_token_costs_at_most_one_forward_pass(run_dir):
    s = generated(session(run_dir), n=100)
    calls = count_forward_passes(s.model)
    n, bs = len(s.tokens), s.model.config.block_size  # 106 tokens, 64: generation halved the window once
    start = n - context_window(n, bs)  # where the context of the next token starts
    f = s.select(n)
    assert len(calls) == 1 and f.i == n and f.actual is None and f.inside.start == start > 0
    assert len(f.inside.ids) == n - start and f.row == n - 1 - start
    assert n - 2 - context_window(n - 2, bs) == start  # token n - 2 was predicted from a context starting there too
    s.select(n - 2)
    assert len(calls) == 1  # the same context: no forward pass at all
    f = s.select(10)
    assert len(calls) == 2 and calls[1] == (1, bs) and f.inside.start == 0  # one pass, of the first block_size tokens
    # every head's map and where the row looks come from the kept weights: no forward pass
    for layer, head in ((1, -1), (1, 0), (0, 1)):
        w = f.inside.attention[layer].mean(0) if head < 0 else f.inside.attention[layer, head]
        torch.testing.assert_close(f.attention(layer, head), w)
        (c, top), *_ = f.attends_to(layer, head)
        assert c == int(w[9].argmax()) and top == pytest.approx(float(w[9].max()))
    assert len(calls) == 2


def test_focus_distribution_under_the_knobs(run_dir):
    f = generated(session(run_dir)).select(30)
    raw, after = f.distribution(RAW)
    torch.testing.assert_close(raw, after)
    torch.testing.assert_close(raw, F.softmax(f.logits, dim=-1))
    raw, after = f.distribution(dict(temperature=1.0, top_k=3))
    assert int((after > 0).sum()) == 3 and set(after.nonzero().flatten().tolist()) == set(raw.topk(3).indices.tolist())
    assert [t for t, _ in f.alternatives(dict(temperature=1.0, top_k=3))] == raw.topk(3).indices.tolist()
    kept = int((sampling_probs(f.logits[None], top_p=0.2)[0] > 0).sum())
    assert len(f.alternatives(dict(temperature=1.0, top_p=0.2))) == min(8, kept)
    assert f.alternatives(dict(temperature=0.0)) == [(int(raw.argmax()), 1.0)]  # greedy: one token left
    flat = f.distribution(dict(temperature=2.0))[1]
    assert flat.max() < raw.max()  # flatter: the favourite loses probability


def test_branch_cuts_the_text_and_generates_on(run_dir):
    s = generated(session(run_dir), n=40)
    i = 20
    before = s.tokens[:i]
    f = s.select(i)
    other, p = next((t, p) for t, p in f.alternatives(RAW) if t != s.tokens[i].id)
    s.branch(i, other, RAW)
    assert s.tokens[:i] == before and s.tokens[i] == Token(other, pytest.approx(p), s.tokens[i].rank, RAW, chosen=True)
    assert s.focus is None and s.tokens[i].how.startswith("chosen by you with p=")
    list(s.generate(40, RAW))
    assert len(s.tokens) == i + 1 + 40 and s.tokens[:i + 1] == before + [s.tokens[i]]
    # and from the end (the next token): the alternative is appended
    n = len(s.tokens)
    best = s.select(n).alternatives(RAW)[0][0]
    s.branch(n, best, RAW)
    assert len(s.tokens) == n + 1 and s.tokens[n].chosen and s.tokens[n].rank == 1


def test_logit_lens_ends_at_the_models_prediction(run_dir):
    s = generated(session(run_dir))
    f = s.select(30)
    assert f.lens.shape == (3, s.model.config.vocab_size)  # embedding, block 1, block 2
    torch.testing.assert_close(f.lens, F.softmax(read_out(s.model, f.inside.stream[:, 29 - f.inside.start]), dim=-1))
    torch.testing.assert_close(f.lens[-1], F.softmax(f.logits, dim=-1))
    assert f.target == s.tokens[30].id
    ids = torch.tensor([s.ids[f.inside.start:30]])
    torch.testing.assert_close(f.logits, s.model(ids)[0][0, -1], atol=1e-5, rtol=1e-5)  # the model's own prediction
    assert s.select(len(s.tokens)).target == int(s.focus.lens[-1].argmax())  # the next token: the lens ranks the favourite


def modern_model(**kw) -> ModernGPT:
    return ModernGPT(ModernConfig(**kw, **MODERN))


@pytest.mark.parametrize("switches", [{}, {"pos_emb": "rope"}, MODERN], ids=["gpt2", "rope", "modern"])
def test_attention_maps_are_the_models_own_weights(switches):
    "look_inside keeps softmax(q kᵀ/√hs + causal mask) of each layer's own projections, and changes nothing it reads."
    torch.manual_seed(0)
    shape = dict(block_size=16, vocab_size=40, n_layer=2, n_head=2, n_embd=16)
    model = (ModernGPT(ModernConfig(**shape, **switches)) if switches else GPT(GPTConfig(**shape))).eval()
    cfg = model.config
    ids = torch.randint(0, 40, (1, 12))
    projections = []
    for block in model.transformer.h:
        block.attn.c_attn.register_forward_hook(lambda m, args, out: projections.append(out.detach()))
    inside = look_inside(model, ids[0].tolist())
    assert inside.attention.shape == (2, 2, 12, 12) and inside.stream.shape == (3, 12, 16)
    hs, T = 8, 12
    for layer, qkv in enumerate(projections):
        q, k, _ = (t.view(1, T, 2, hs).transpose(1, 2) for t in qkv.split(16, dim=2))
        if getattr(cfg, "qk_norm", False):
            q, k = F.rms_norm(q, (hs,)), F.rms_norm(k, (hs,))
        if getattr(cfg, "pos_emb", "learned") == "rope":
            angles = rope_angles(torch.arange(T), hs)
            q, k = rotate(q, *angles), rotate(k, *angles)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(hs) + torch.full((T, T), float("-inf")).triu(1)
        torch.testing.assert_close(inside.attention[layer], F.softmax(scores, dim=-1)[0], atol=1e-6, rtol=1e-5)
    assert torch.allclose(inside.attention.sum(-1), torch.ones(2, 2, T), atol=1e-6)
    # the fused path is back on and no hook is left behind
    assert all(b.attn.fused and not b.attn.probs._forward_hooks and not b._forward_hooks for b in model.transformer.h)
    model.use_fused_attention(False)
    look_inside(model, ids[0].tolist())
    assert not any(b.attn.fused for b in model.transformer.h)  # a model that was on the explicit path stays there
    # the head read out of the last stream entry is the model's own output (the logit lens's last row)
    torch.testing.assert_close(read_out(model, inside.stream[-1]), model(ids)[0][0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", ["bpe", "modern"])
def test_session_works_for_bpe_and_modern_models(kind):
    torch.manual_seed(0)
    if kind == "bpe":
        model, tok, prompt = GPT(GPTConfig(block_size=32, vocab_size=50304, n_layer=2, n_head=2, n_embd=16)), None, "Hello, wörld"
    else:
        model, tok, prompt = modern_model(block_size=16, vocab_size=66, n_layer=2, n_head=2, n_embd=16), chars(), "ROMEO:"
    s = Session(model, tok, device="cpu", dtype="float32")  # a GPT-2-sized vocabulary gets GPT-2's tokenizer
    generated(s, prompt, n=40)  # past block_size: the rope model's cache slides
    assert s.text.startswith(prompt)
    for i in (len(s.tokens), len(s.tokens) - 3, 5):
        f = s.select(i)
        T = len(f.inside.ids)
        assert f.i == i and f.inside.attention.shape == (2, 2, T, T) and 0 <= f.row < T
        assert f.lens.shape == (3, model.config.vocab_size) and len(f.alternatives(RAW)) == 8
        t = s.tokens[i] if i < len(s.tokens) else Token(-1)
        if t.p is not None and (kind == "bpe" or i <= 16):  # a rotary model's view past block_size: the last 16
            assert abs(f.distribution(RAW)[0][t.id] - t.p) < 1e-4  # the context generation had
    s.branch(5, f.alternatives(RAW)[2][0], RAW)
    list(s.generate(40, RAW))
    assert s.tokens[5].chosen and len(s.tokens) == 6 + 40


def test_token_pieces_keep_characters_whole():
    "BPE: a character split over two tokens shows once, on the token that completes it."
    bpe = BPETokenizer()
    ids = bpe.encode("héllo 🦙 ok")
    pieces = token_pieces(bpe, ids)
    assert "".join(pieces) == "héllo 🦙 ok" and "" in pieces and "\ufffd" not in "".join(pieces)


def test_a_character_model_needs_its_tokenizer(run_dir):
    from nanogpt.checkpoint import load_model
    model, tokenizer = load_model(run_dir)
    with pytest.raises(NanoGPTError, match="needs its tokenizer"):
        Session(model)
    with pytest.raises(NanoGPTError, match="needs its tokenizer"):
        Playground(model)
    pg = Playground(model, tokenizer)
    assert pg.picker.value == "__given__" and pg.session.model is model and "characters" in pg.status.value


# ---- the view: widgets whose handlers run in plain Python ----

def clicked(pg, prompt="ROMEO:", n=60, **knobs):
    pg.prompt.value, pg.max_new_tokens.value, pg.refresh = prompt, n, 0.0
    for name, value in knobs.items():
        getattr(pg, name).value = value
    pg.generate_button.click()
    pg.wait(60)
    assert f"done: {n} tokens" in pg.status.value, pg.status.value
    return pg


def test_view_streams_in_order_without_blocking(run_dir):
    pg = Playground(run_dir, runs=[run_dir], device="cpu", dtype="float32")
    seen = []
    pg.output.observe(lambda c: seen.append("".join(t[0] for t in c["new"] if t[3] != "pg-next-tok")), names="tokens")
    pg.prompt.value, pg.max_new_tokens.value, pg.temperature.value, pg.top_k.value, pg.top_p.value = "ROMEO:", 300, 0.9, 20, 0.95
    pg.refresh = 0.0
    pg.generate_button.click()
    assert pg.worker.busy and pg.generate_button.disabled and not pg.stop_button.disabled  # back while generating
    pg.wait(60)
    assert not pg.worker.busy and pg.stats["tokens"] == 300
    assert len(seen) > 20 and all(b.startswith(a) for a, b in zip(seen, seen[1:]))
    assert pg.output.text == pg.session.text and len(pg.session.tokens) == 6 + 300
    assert pg.session.focus.i == 306 and pg.views.probs.value  # the views show the next token
    # what the token view draws is the session's tokens: classes, colours and tooltips
    spans = pg.output.tokens
    assert [t[3] for t in spans] == ["pg-prompt-tok"] * 6 + ["pg-gen-tok"] * 300 + ["pg-next-tok"]
    t = pg.session.tokens[30]
    assert spans[30][1] == f"hsl({120 * t.p:.0f}, 80%, 84%)" and spans[30][2] == f"token 30: id {t.id}, {t.how}"


def test_view_stop(run_dir):
    pg = Playground(run_dir, device="cpu", dtype="float32")
    pg.prompt.value, pg.max_new_tokens.value, pg.refresh = "\n", 2000, 0.0
    # click Stop from the output's observer, i.e. inside the generation, as soon as the first token shows: no clock
    pg.output.observe(lambda change: pg.stop_button.click() if len(change["new"]) > 1 else None, names="tokens")
    pg.generate_button.click()
    pg.wait(60)
    assert pg.stats["stopped"] and pg.stats["tokens"] == len(pg.session.tokens) - 1 <= 2 and "stopped:" in pg.status.value
    assert not pg.worker.busy and not pg.generate_button.disabled and pg.stop_button.disabled
    assert pg.session.focus.i == len(pg.session.tokens)  # the views show the stopped text's end


def test_view_errors_go_to_status(run_dir, tmp_path, monkeypatch):
    pg = Playground(run_dir, device="cpu")
    pg.prompt.value = "Ĥello"
    pg.generate_button.click()
    assert "pg-status-error" in pg.status.value and "Ĥ" in pg.status.value and not pg.worker.busy
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
    assert "pg-status-error" in pg.status.value and "gpt2" in pg.status.value and pg.session.model is None
    pg.generate_button.click()
    assert "no model loaded" in pg.status.value


def test_view_picker_and_next_token(run_dir, tmp_path):
    other = tmp_path / "runs" / "second"
    other.mkdir(parents=True)
    (other / "ckpt.pt").write_bytes((run_dir / "ckpt.pt").read_bytes())
    runs = find_runs(tmp_path, run_dir.parent)
    assert set(runs) == {other.resolve(), run_dir.resolve()}
    pg = Playground(runs[0], runs=runs, device="cpu")
    labels = [label for label, _ in pg.picker.options]
    assert str(runs[1]) in labels and "gpt2-xl (pretrained)" in labels
    pg.picker.value = str(runs[1])
    assert "pg-status-ok" in pg.status.value and pg.session.model is not None
    assert [o[1] for o in pg.views.layer.options] == [0, 1] and pg.views.head.options[0][1] == -1
    pg.prompt.value = "ROMEO:\nWhat"
    pg.next_button.click(); pg.wait(60)
    assert pg.session.text == "ROMEO:\nWhat" and pg.session.focus.i == len("ROMEO:\nWhat")
    assert "pg-prob-row" in pg.views.probs.value and pg.views.heatmap.value[:4] == b"\x89PNG"


def test_view_clicks_draw_the_session(run_dir):
    "A token click selects in the session, sliders redraw the chart only, pickers redraw the map, an alternative branches."
    pg = clicked(Playground(run_dir, device="cpu", dtype="float32"), n=60, temperature=1.0, top_k=0)
    s = pg.session
    calls = count_forward_passes(s.model)
    pg.output.selected = 10  # a click in the browser sets this
    pg.wait(60)
    assert s.focus.i == 10 and len(calls) == 1 and pg.output.selected == 10
    assert f"token 10, " in html.unescape(pg.status.value) and s.tokens[10].how in pg.status.value
    chart, status, text = pg.views.probs.value, pg.status.value, s.text
    pg.top_k.value = 3
    assert pg.views.probs.value != chart and len(pg.views.alternatives.children) == 3
    pg.top_k.value, pg.temperature.value = 0, 0.0
    assert len(pg.views.alternatives.children) == 1
    pg.temperature.value = 1.0
    pictures = {pg.views.heatmap.value}
    for layer, head in ((1, -1), (1, 0), (0, 1)):
        pg.views.layer.value, pg.views.head.value = layer, head
        pg.wait(60)
        pictures.add(pg.views.heatmap.value)
    assert len(pictures) == 4 and len(calls) == 1 and s.text == text and pg.status.value == status  # nothing generated
    before = s.tokens[:10]
    other = next(b for b in pg.views.alternatives.children if b.button_style != "info")  # not the token there now
    other.click()  # cut at 10, put this token there, generate 60 more
    pg.wait(60)
    assert s.tokens[:10] == before and s.tokens[10].chosen and len(s.tokens) == 10 + 1 + 60
    assert pg.output.tokens[10][3] == "pg-chosen-tok" and "done: 60 tokens" in pg.status.value


def test_app_without_runs_says_how_to_train(tmp_path):
    pg = app([tmp_path])
    assert MAIN_JOB in html.unescape(pg.status.value) and pg.session.model is None
