"""Checks for the exercises at the end of each chapter: call one with your answer, it says what is right or wrong.

Each check returns True when the answer passes. An answer that still raises NotImplementedError is reported as
not attempted, so a chapter's Run All never stops at its exercises.
"""
import math

import torch
import torch.nn.functional as F


def _run(name, attempt):
    "Run `attempt()`; print a one-line verdict and return whether it passed."
    try:
        problem = attempt()
    except NotImplementedError:
        print(f"{name}: not attempted yet (replace the `raise NotImplementedError` with your code)")
        return False
    except Exception as e:  # the learner's code failed: say how, do not stop the notebook
        print(f"{name}: your code raised {type(e).__name__}: {e}")
        return False
    print(f"{name}: " + ("correct" if problem is None else f"not yet: {problem}"))
    return problem is None


# ---- model chapter ----

def model_1(attention_without_mask):
    def attempt():
        g = torch.Generator().manual_seed(0)
        q, k, v = (torch.randn(2, 5, 8, generator=g) for _ in range(3))
        out = attention_without_mask(q, k, v)
        want = F.softmax(q @ k.transpose(-2, -1) / math.sqrt(8), dim=-1) @ v
        if tuple(out.shape) != (2, 5, 8):
            return f"shape {tuple(out.shape)}, expected (2, 5, 8)"
        if torch.allclose(out[:, 0], v[:, 0], atol=1e-5):
            return "position 0 only sees itself: the mask is still there"
        if not torch.allclose(out, want, atol=1e-5):
            return "values differ from softmax(q kᵀ / √head_size) v (did you scale the scores?)"
    return _run("exercise 1 (attention without a mask)", attempt)


def model_2(gpt_param_count):
    from nanogpt.model import GPTConfig, count_params

    def attempt():
        for n_layer, n_embd, vocab, block in ((12, 768, 50257, 1024), (2, 64, 65, 32), (24, 1024, 50304, 2048)):
            got, want = gpt_param_count(n_layer, n_embd, vocab, block), count_params(
                GPTConfig(n_layer=n_layer, n_head=4, n_embd=n_embd, vocab_size=vocab, block_size=block, bias=True))
            if got != want:
                return f"{got:,} for n_layer={n_layer}, n_embd={n_embd}, vocab={vocab}, block={block}; expected {want:,}"
    return _run("exercise 2 (GPT parameters by hand)", attempt)


def model_3(my_layer_norm):
    def attempt():
        g = torch.Generator().manual_seed(0)
        x = torch.randn(3, 4, 16, generator=g) * 5 + 2
        gain, bias = torch.rand(16, generator=g) + 0.5, torch.randn(16, generator=g)
        out = my_layer_norm(x, gain, bias)
        want = F.layer_norm(x, (16,), gain, bias)
        if tuple(out.shape) != tuple(x.shape):
            return f"shape {tuple(out.shape)}, expected {tuple(x.shape)}"
        if not torch.allclose(out, want, atol=1e-4):
            return "values differ from nn.LayerNorm's (normalise over the last dimension, biased variance, then gain and bias)"
    return _run("exercise 3 (LayerNorm)", attempt)


# ---- generate chapter ----

def generate_1(top_k_filter):
    def attempt():
        g = torch.Generator().manual_seed(0)
        logits = torch.randn(3, 20, generator=g)
        out = top_k_filter(logits, 5)
        if tuple(out.shape) != (3, 20):
            return f"shape {tuple(out.shape)}, expected (3, 20)"
        kept = torch.isfinite(out)
        if not (kept.sum(-1) == 5).all():
            return f"rows keep {kept.sum(-1).tolist()} entries, expected 5 each"
        top = logits.topk(5, dim=-1).indices
        if not kept.gather(1, top).all() or not torch.equal(out[kept], logits[kept]):
            return "the kept entries must be the 5 largest of each row, unchanged"
    return _run("exercise 1 (top-k by hand)", attempt)


def generate_2(min_p_probs):
    def attempt():
        logits = torch.tensor([[3.0, 2.0, 0.0, -1.0], [0.1, 0.0, 0.0, -0.1]])
        out = min_p_probs(logits, 0.2)
        p = F.softmax(logits, -1)
        want = torch.where(p >= 0.2 * p.max(-1, keepdim=True).values, p, torch.zeros_like(p))
        want = want / want.sum(-1, keepdim=True)
        if tuple(out.shape) != (2, 4):
            return f"shape {tuple(out.shape)}, expected (2, 4)"
        if not torch.allclose(out.sum(-1), torch.ones(2), atol=1e-5):
            return "each row must sum to 1 (renormalise what you keep)"
        if not torch.allclose(out, want, atol=1e-5):
            return f"got {out.numpy().round(3).tolist()}, expected {want.numpy().round(3).tolist()}"
    return _run("exercise 2 (min-p)", attempt)


def generate_3(kv_cache_bytes):
    from nanogpt.generate import KVCache
    from nanogpt.model import GPTConfig

    def attempt():
        for n_layer, n_embd, block, batch, dtype in ((2, 64, 32, 3, torch.float32), (4, 128, 64, 1, torch.bfloat16)):
            c = KVCache(GPTConfig(n_layer=n_layer, n_head=4, n_embd=n_embd, block_size=block), batch, dtype=dtype)
            want = sum(t.numel() * t.element_size() for t in c.k + c.v)
            got = kv_cache_bytes(n_layer, n_embd, block, batch, torch.tensor([], dtype=dtype).element_size())
            if got != want:
                return f"{got:,} bytes for n_layer={n_layer}, n_embd={n_embd}, block={block}, batch={batch}; expected {want:,}"
    return _run("exercise 3 (KV cache size)", attempt)


# ---- train chapter ----

def train_1(wsd_lr):
    def attempt():
        want = {0: 0.1, 9: 1.0, 10: 1.0, 79: 1.0, 80: 1.0, 90: 0.5, 100: 0.0}  # max_iters=100, lr=1, warmup=10, decay 20%
        for it, w in want.items():
            got = wsd_lr(it, 100, 1.0, 10, 0.2)
            if abs(got - w) > 1e-6:
                return f"wsd_lr({it}, max_iters=100, lr=1.0, warmup=10, decay_frac=0.2) = {got}, expected {w}"
    return _run("exercise 1 (warmup-stable-decay)", attempt)


def train_2(unigram_loss):
    def attempt():
        train_ids = torch.tensor([0, 0, 0, 1, 1, 2, 0, 1])
        val_ids = torch.tensor([0, 1, 2, 2])
        p = torch.tensor([4 / 8, 3 / 8, 1 / 8])
        want = -torch.log(p[val_ids]).mean().item()
        got = float(unigram_loss(train_ids, val_ids, 3))
        if abs(got - want) > 1e-4:
            return f"{got:.4f} on a small example, expected {want:.4f} (-mean log p(val token) under the train frequencies)"
    return _run("exercise 2 (unigram loss)", attempt)


def train_3(accumulated_grads):
    from nanogpt.model import GPT, GPTConfig

    def attempt():
        torch.manual_seed(0)
        model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=16))
        x, y = torch.randint(0, 11, (6, 8)), torch.randint(0, 11, (6, 8))
        model.zero_grad()
        model(x, y)[1].backward()
        want = [p.grad.clone() for p in model.parameters()]
        model.zero_grad()
        got = list(accumulated_grads(model, x, y, 3))
        if len(got) != len(want):
            return f"{len(got)} gradients, expected one per parameter ({len(want)})"
        if not all(torch.allclose(g, w, atol=1e-5) for g, w in zip(got, want)):
            return "not the gradient of the mean loss over the whole batch (did you divide each micro-batch's loss?)"
    return _run("exercise 3 (accumulation by hand)", attempt)


# ---- modern chapter ----

def modern_1(rope_turn):
    from nanogpt.model import rope_angles, rotate

    def attempt():
        g = torch.Generator().manual_seed(0)
        x, pos = torch.randn(2, 3, 7, 8, generator=g), torch.arange(5, 12)
        out = rope_turn(x, pos)
        if tuple(out.shape) != tuple(x.shape):
            return f"shape {tuple(out.shape)}, expected {tuple(x.shape)}"
        if not torch.allclose(out.norm(dim=-1), x.norm(dim=-1), atol=1e-4):
            return "a rotation keeps every vector's length; yours changes it"
        if not torch.allclose(out, rotate(x, *rope_angles(pos, 8)), atol=1e-4):
            return "lengths kept, but not the rotary angles: pair m = (x[m], x[m + hs/2]) turns by pos * 10000**(-2m/hs)"
    return _run("exercise 1 (rotary embeddings)", attempt)


def modern_2(newton_schulz_steps):
    def attempt():
        g = torch.Generator().manual_seed(0)
        G = torch.randn(32, 96, generator=g) @ torch.diag(torch.logspace(0, -2, 96))  # uneven directions
        counts = newton_schulz_steps(G)
        s = torch.linalg.svdvals(G / G.norm())
        want = 0
        X = G / G.norm()
        while not (torch.linalg.svdvals(X).min() > 0.5 and torch.linalg.svdvals(X).max() < 1.5) and want < 20:
            A = X @ X.T
            X = 3.4445 * X + (-4.7750 * A + 2.0315 * A @ A) @ X
            want += 1
        if counts != want:
            return (f"{counts} steps; the singular values (from {s.min():.3f} to {s.max():.3f} after scaling) "
                    f"are all within (0.5, 1.5) after {want}")
    return _run("exercise 2 (Newton-Schulz steps)", attempt)


# ---- sample chapter ----

def sample_1(sequence_logprob):
    from nanogpt.model import GPT, GPTConfig

    def attempt():
        torch.manual_seed(0)
        model = GPT(GPTConfig(block_size=16, vocab_size=7, n_layer=1, n_head=1, n_embd=8)).eval()
        ids = torch.tensor([[1, 4, 2, 2, 6, 0]])
        with torch.no_grad():
            logp = F.log_softmax(model(ids)[0][0, :-1].float(), dim=-1)
        want = logp.gather(1, ids[0, 1:, None]).sum().item()
        got = float(sequence_logprob(model, ids))
        if abs(got - want) > 1e-4:
            return f"{got:.4f} for a small random model, expected {want:.4f} (sum over t of log p(ids[t] | ids[:t]))"
    return _run("exercise 1 (log-probability of a sequence)", attempt)


def sample_2(mean_lookback):
    def attempt():
        T = 4
        prev = torch.zeros(T, T)
        prev[0, 0] = 1
        prev[torch.arange(1, T), torch.arange(0, T - 1)] = 1  # always the previous position: distance 1 (0 at the start)
        first = torch.zeros(T, T)
        first[:, 0] = 1  # always position 0: distances 0, 1, 2, 3
        got = torch.as_tensor(mean_lookback(torch.stack([prev, first]))).float()
        want = torch.tensor([0.75, 1.5])
        if got.shape != (2,) or not torch.allclose(got, want, atol=1e-5):
            return f"got {got.tolist()}, expected {want.tolist()} for a previous-token head and a first-token head"
    return _run("exercise 2 (mean look-back)", attempt)


def sample_3(penalize):
    def attempt():
        logits = torch.tensor([2.0, -1.0, 0.5, -3.0])
        got = penalize(logits.clone(), [0, 1, 1], 2.0)
        want = torch.tensor([1.0, -2.0, 0.5, -3.0])
        if not torch.allclose(torch.as_tensor(got), want):
            return f"got {torch.as_tensor(got).tolist()}, expected {want.tolist()}"
    return _run("exercise 3 (repetition penalty)", attempt)


# ---- data chapter ----

def data_1(byte_encode, byte_decode):
    def attempt():
        text = "Ça va? naïve 🎭"
        ids = list(byte_encode(text))
        if ids != list(text.encode("utf-8")):
            return f"byte_encode gave {ids[:8]}..., expected the UTF-8 bytes {list(text.encode('utf-8'))[:8]}..."
        if not all(0 <= i < 256 for i in ids):
            return "ids must lie in 0..255"
        back = byte_decode(ids)
        if back != text:
            return f"byte_decode(byte_encode(text)) = {back!r}, expected {text!r}"
    return _run("exercise 1 (a byte-level tokenizer)", attempt)


def data_2(make_xy):
    def attempt():
        tokens = torch.arange(100) * 3
        x, y = make_xy(tokens, [0, 10, 57], 8)
        want_x = torch.stack([tokens[s:s + 8] for s in (0, 10, 57)])
        if tuple(x.shape) != (3, 8) or tuple(y.shape) != (3, 8):
            return f"shapes {tuple(x.shape)} and {tuple(y.shape)}, expected (3, 8) each"
        if not torch.equal(x, want_x):
            return "x must hold the block_size tokens from each start"
        if not torch.equal(y, want_x + 3):  # the next token of this stream is the current one plus 3
            return "y must be x shifted by one position: the token after each one of x"
    return _run("exercise 2 (the shift)", attempt)


# ---- bench chapter ----

def bench_1(mfu_by_hand):
    from nanogpt.model import GPT, GPTConfig, estimate_mfu

    def attempt():
        cfg = GPTConfig(block_size=256, vocab_size=65, n_layer=6, n_head=6, n_embd=384)
        with torch.device("meta"):
            model = GPT(cfg)
        want = estimate_mfu(model, 20_000, 400e12)
        got = mfu_by_hand(model.num_params(), cfg.n_layer, cfg.n_embd, cfg.block_size, 20_000, 400e12)
        if abs(got - want) > 1e-9:
            return f"{got:.6f}, expected {want:.6f} (6 FLOPs per parameter plus 12 * n_layer * n_embd * block_size per token)"
    return _run("exercise 1 (MFU by hand)", attempt)


def bench_2(decode_floor_ms):
    def attempt():
        got = decode_floor_ms(n_params=124_000_000, bytes_per_param=2, bandwidth=3.35e12)
        want = 124_000_000 * 2 / 3.35e12 * 1e3
        if abs(got - want) > 1e-6:
            return f"{got:.4f} ms, expected {want:.4f} ms (every weight read once per token)"
    return _run("exercise 2 (the bandwidth floor)", attempt)


# ---- eval chapter ----
def eval_1(bpb_from_loss):
    def attempt():
        got = bpb_from_loss(loss=1.5, tokens=1000, nbytes=3100)
        want = 1.5 * 1000 / (math.log(2) * 3100)
        if abs(got - want) > 1e-9:
            return f"{got:.5f} bits per byte, expected {want:.5f} (total nats over ln 2 times the bytes)"
    return _run("exercise 1 (bits per byte by hand)", attempt)
