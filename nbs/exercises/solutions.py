"""Worked solutions of the chapters' exercises. tests/test_exercises.py runs every check on them."""
import math

import torch
import torch.nn.functional as F


# ---- model chapter ----

def attention_without_mask(q, k, v):
    "Every position attends to every other, the future included."
    return F.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1) @ v
# Why training would go wrong: position t can now read token t+1, which is exactly its target. The model
# learns to copy it, so the training loss falls towards 0, but when generating there is no future to copy
# from, and what it learned is useless.


def gpt_param_count(n_layer, n_embd, vocab_size, block_size):
    "A GPT with biases and a tied head, counted from its layers' shapes."
    C = n_embd
    embeddings = vocab_size * C + block_size * C  # wte (shared with the head) and wpe
    layer_norm = 2 * C  # gain and bias
    attention = (C * 3 * C + 3 * C) + (C * C + C)  # c_attn, c_proj
    mlp = (C * 4 * C + 4 * C) + (4 * C * C + C)  # c_fc, c_proj
    return embeddings + n_layer * (2 * layer_norm + attention + mlp) + layer_norm  # + the final ln_f


def my_layer_norm(x, gain, bias, eps=1e-5):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * gain + bias


def loss_at_init(vocab_size):
    "A model that knows nothing spreads its bet evenly: every token gets 1/V, whichever comes, so the loss is -ln(1/V)."
    return math.log(vocab_size)


def measure_loss_at_init(vocab_size):
    from nanogpt.model import GPT, GPTConfig
    model = GPT(GPTConfig(block_size=32, vocab_size=vocab_size, n_layer=2, n_head=4, n_embd=32))
    x, y = torch.randint(0, vocab_size, (8, 32)), torch.randint(0, vocab_size, (8, 32))
    with torch.no_grad():
        return model(x, y)[1].item()
# For V = 50,304: ln V = 10.83 nats. A first logged loss far above it means a bad initialisation (the logits are not
# near zero), far below it means the targets leak into the inputs. GPT-2 at full width (n_embd = 768) starts
# 0.1-0.25 above ln V: its logits at init are small but not all equal (the head is 0.02-scaled vectors dotted with a
# unit-scale residual stream), and any spread between them costs loss against targets the model cannot yet predict.


def attention_entropy(d, scaled, T=64, n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(n, T, d, generator=g), torch.randn(n, T, d, generator=g)  # n draws of T queries and T keys
    scores = q @ k.transpose(-2, -1)  # (n, T, T): each a sum of d products of unit-variance numbers, variance d
    if scaled:
        scores = scores / math.sqrt(d)  # variance 1, whatever d is
    logp = F.log_softmax(scores, dim=-1)  # log p directly: no log(0) where a probability underflows
    return -(logp.exp() * logp).sum(-1).mean().item()


def effective_keys_answer():
    "An entropy H is as spread as a uniform choice among e^H keys: (with the scaling, without it) at d = 64."
    return math.exp(attention_entropy(64, True)), math.exp(attention_entropy(64, False))
# About 40 keys of 64 with the scaling, under 2 without: unscaled scores have a spread of √64 = 8, so softmax puts
# nearly all the weight on the top score. That is the wrong start for learning twice over: every query reads one
# essentially random token, and a saturated softmax passes back almost no gradient to the scores (∂p/∂s = p(1 - p)
# is near 0 when p is near 0 or 1). With the scaling the spread of the scores is 1 for every head size.


# ---- generate chapter ----

def top_k_filter(logits, k):
    kth = logits.topk(k, dim=-1).values[:, [-1]]  # (B, 1): the k-th largest of each row
    return logits.masked_fill(logits < kth, float("-inf"))


def min_p_probs(logits, p_min):
    p = F.softmax(logits, dim=-1)
    p = torch.where(p >= p_min * p.max(-1, keepdim=True).values, p, torch.zeros_like(p))
    return p / p.sum(-1, keepdim=True)
# It adapts because the threshold scales with the top probability: a confident model (top token at 0.9)
# keeps only tokens above 0.18, an unsure one (top token at 0.05) keeps everything above 0.01.


def kv_cache_bytes(n_layer, n_embd, block_size, batch_size, bytes_per_value):
    return 2 * n_layer * batch_size * block_size * n_embd * bytes_per_value  # keys and values of every layer
# GPT-2 XL (48 layers, 1,600 wide), 1,024 tokens, bf16: 2 * 48 * 1024 * 1600 * 2 bytes = 315 MB per sequence.


# ---- optim chapter ----

def first_below_half(warmup_iters, lr_decay_iters, learning_rate, min_lr):
    "The first iteration after the warmup at which the schedule's rate is below half its peak; None if never."
    if min_lr >= learning_rate / 2:
        return None  # the cosine ends at min_lr and stays there
    # after the warmup, rate = min_lr + (learning_rate - min_lr) * (1 + cos(pi * progress)) / 2: solve rate = half
    c = 2 * (learning_rate / 2 - min_lr) / (learning_rate - min_lr) - 1  # cos(pi * progress) at the crossing
    crossing = warmup_iters + math.acos(c) / math.pi * (lr_decay_iters - warmup_iters)
    return math.floor(crossing) + 1  # the first whole iteration past it (an exact hit is not yet below)
# With min_lr = 0 the cosine is symmetric and crosses half at the middle of the decay; a floor lifts the whole curve,
# so half the peak comes later: for train_shakespeare_char (min_lr a tenth of the peak) at iteration 2,724; with a
# floor of 0 it would be 2,551 (at 2,550, the exact middle, the rate is half the peak, not below it).


# ---- train chapter ----

def wsd_lr(it, max_iters, lr, warmup, decay_frac):
    decay_start = max_iters - int(decay_frac * max_iters)
    if it < warmup:
        return lr * (it + 1) / warmup
    if it < decay_start:
        return lr
    return lr * (max_iters - it) / (max_iters - decay_start)


def unigram_loss(train_ids, val_ids, vocab_size):
    counts = torch.bincount(torch.as_tensor(train_ids, dtype=torch.long), minlength=vocab_size).double()
    p = counts / counts.sum()
    return -torch.log(p[torch.as_tensor(val_ids, dtype=torch.long)]).mean().item()
# On tiny Shakespeare: about 3.3, against ln 65 = 4.17 for a uniform guess and about 2.5 for the bigram table.


def accumulated_grads(model, x, y, n_micro):
    model.zero_grad()
    for xm, ym in zip(x.chunk(n_micro), y.chunk(n_micro)):
        (model(xm, ym)[1] / n_micro).backward()
    return [p.grad.clone() for p in model.parameters()]


def train_minimal(ids, vocab_size, lr, steps):
    "Full-batch SGD on a bigram table that starts at zero; the mean cross-entropy after the last step."
    x, y = ids[:-1], ids[1:]  # every (token, next token) pair
    W = torch.zeros(vocab_size, vocab_size, requires_grad=True)  # row a: the logits of what follows a
    opt = torch.optim.SGD([W], lr=lr)
    for _ in range(steps):
        loss = F.cross_entropy(W[x], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return F.cross_entropy(W[x], y).item()


def lr_x10_answers():
    "The answers, from the loop: (the final loss at lr = 30, at lr = 300) and whether lr = 300 diverged."
    from .checks import soliloquy_ids
    ids, V = soliloquy_ids()
    final_losses = train_minimal(ids, V, 30.0, 100), train_minimal(ids, V, 300.0, 100)
    return final_losses, final_losses[1] > math.log(V)  # it ends above where it started: the all-zero table's ln V
# About 1.63 at lr = 30; at lr = 300 somewhere between 4.7 and 8 (the run is chaotic: rounding decides where it
# ends), against 3.26 at the start: diverged. Yet from lr = 3 (2.00 after 100 steps) x10 was a gain. The best rate
# sits just below the edge where a step overshoots the valley's floor by more than it descended, and past that edge
# every step climbs. Learning rates do not transfer between problems: here each row of the table gets a gradient
# scaled by its share of the pairs, small enough that rates absurd for a GPT are the right ones.


# ---- modern chapter ----

def rope_turn(x, pos):
    hs = x.size(-1)
    theta = 10000.0 ** (-torch.arange(0, hs, 2).float() / hs)  # (hs/2,)
    angles = pos.float()[:, None] * theta  # (T, hs/2)
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * angles.cos() - x2 * angles.sin(), x1 * angles.sin() + x2 * angles.cos()), dim=-1)


def newton_schulz_steps(G, a=3.4445, b=-4.7750, c=2.0315, limit=20):
    X, steps = G / G.norm(), 0
    while steps < limit:
        s = torch.linalg.svdvals(X)
        if s.min() > 0.5 and s.max() < 1.5:
            break
        A = X @ X.T
        X = a * X + (b * A + c * A @ A) @ X
        steps += 1
    return steps
# A small singular value grows about a = 3.4 times per step, a large one is pulled back towards 1: here three
# steps bring the weakest direction (0.026 after scaling) into the band; Muon's five leave room for weaker ones.


# ---- sample chapter ----

@torch.no_grad()
def sequence_logprob(model, ids):
    logits = model(ids)[0][0, :-1].float()  # the prediction for each next token
    return F.log_softmax(logits, dim=-1).gather(1, ids[0, 1:, None]).sum().item()
# Under the chapter's model "ROMEO:\nI will" is far likelier than "ROMEO:\nxqz zzq": English letter pairs.


def mean_lookback(att):
    T = att.size(-1)
    distance = (torch.arange(T)[:, None] - torch.arange(T)[None]).clamp(min=0).to(att.dtype)  # query - key
    return (att * distance).sum(-1).mean(-1)


def penalize(logits, seen_ids, penalty):
    seen = torch.tensor(sorted(set(seen_ids)))
    logits[seen] = torch.where(logits[seen] > 0, logits[seen] / penalty, logits[seen] * penalty)
    return logits


# ---- data chapter ----

def byte_encode(text):
    return list(text.encode("utf-8"))


def byte_decode(ids):
    return bytes(ids).decode("utf-8", errors="replace")


def make_xy(tokens, starts, block_size):
    windows = torch.stack([tokens[s:s + block_size + 1] for s in starts])  # (B, block_size + 1)
    return windows[:, :-1], windows[:, 1:]


def bpe_merge_once(ids):
    counts = {}
    for pair in zip(ids, ids[1:]):  # every adjacent position, overlapping ones too
        counts[pair] = counts.get(pair, 0) + 1
    top = max(counts, key=counts.get)  # max returns the first maximum; dicts keep the order pairs were first seen
    merged, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == top:
            merged.append(256)  # the first id past the 256 bytes
            i += 2  # both ids are used up: [5, 5, 5] becomes [256, 5]
        else:
            merged.append(ids[i])
            i += 1
    return top, merged
# The tie rule is a choice: the chapter takes the smallest pair, minbpe (and this exercise) the first one seen. Either
# makes training deterministic; they learn different merges only when counts tie, which on real text is rare after
# the first few merges. Counting every position but merging without overlap is why [5, 5, 5] counts (5, 5) twice and
# still saves only one token.


# ---- bench chapter ----

def mfu_by_hand(n_params, n_layer, n_embd, block_size, tokens_per_s, peak):
    flops_per_token = 6 * n_params + 12 * n_layer * n_embd * block_size
    return flops_per_token * tokens_per_s / peak


def decode_floor_ms(n_params, bytes_per_param, bandwidth):
    return n_params * bytes_per_param / bandwidth * 1e3
# GPT-2 124M in bf16 on an H100 (3.35 TB/s): about 0.07 ms per token, some 13,500 tokens/s at batch 1.
# Batching B sequences reads the weights once for all B of them: the floor per token divides by B, until the
# arithmetic (2 FLOPs per parameter per token) becomes the bound instead.


def bpb_from_loss(loss, tokens, nbytes):
    return loss * tokens / (math.log(2) * nbytes)
