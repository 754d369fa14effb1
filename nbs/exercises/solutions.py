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
