"""Draw the book's diagrams as SVG into nbs/images/: `python scripts/diagrams.py [--png DIR]`.

diagram_head.svg      one attention head, Q/K/V with shapes
diagram_mask.svg      the causal mask and one softmax-ed row
diagram_residual.svg  the pre-norm residual stream of a GPT
diagram_kvcache.svg   the KV cache written by position, and its ring past block_size
diagram_parallel.svg  DDP and FSDP on two ranks, and the memory per rank

Only matplotlib. The output is deterministic (fixed hash salt, no date, text kept as text), so running it
twice writes byte-identical files. `--png DIR` also writes a PNG twin of each, to look at.
"""
import argparse
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Circle, ConnectionPatch, FancyArrowPatch, FancyBboxPatch, Rectangle, Wedge  # noqa: E402

root = pathlib.Path(__file__).resolve().parent.parent
out_dir = root / "nbs" / "images"

plt.rcParams.update({
    "svg.hashsalt": "nanogpt-diagrams", "svg.fonttype": "none", "font.family": "DejaVu Sans",
    "font.size": 10, "axes.edgecolor": "#455a64", "axes.labelcolor": "#263238", "xtick.color": "#455a64",
    "ytick.color": "#455a64", "axes.spines.top": False, "axes.spines.right": False,
})

# One palette for all five diagrams.
INK, MUTED, LINE = "#263238", "#607d8b", "#90a4ae"
BLUE, ORANGE, GREEN, PURPLE, RED, TEAL, GREY = "#4c72b0", "#dd8452", "#55a868", "#8172b3", "#c44e52", "#2a9d8f", "#8c8c8c"
SCALE = 2.0  # drawing units per inch on a canvas


def tint(color, amount):
    "`color` mixed with white: amount 1 is the colour, 0 is white."
    rgb = np.array(matplotlib.colors.to_rgb(color))
    return tuple(1 - amount * (1 - rgb))


def canvas(w, h):
    "A figure `w` x `h` inches with one axes over all of it, in units of 1/SCALE inch, y up."
    fig = plt.figure(figsize=(w, h))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, w * SCALE)
    ax.set_ylim(0, h * SCALE)
    ax.axis("off")
    return fig, ax


def box(ax, x, y, w, h, text="", color=GREY, fill=0.18, fs=10, tc=INK, lw=1.2, ls="-", r=0.12, **kw):
    "A rounded box with its lower-left corner at (x, y), text centred."
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle=f"round,pad=0,rounding_size={r}", fc=tint(color, fill),
                                ec=color, lw=lw, ls=ls))
    if text:
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fs, color=tc, **kw)


def arrow(ax, p, q, color=INK, lw=1.2, ls="-", style="-|>", ms=11, rad=0.0):
    ax.add_patch(FancyArrowPatch(p, q, arrowstyle=style, mutation_scale=ms, color=color, lw=lw, ls=ls,
                                 shrinkA=0, shrinkB=0, connectionstyle=f"arc3,rad={rad}"))


def line(ax, xs, ys, color=INK, lw=1.2, ls="-"):
    ax.plot(xs, ys, color=color, lw=lw, ls=ls, solid_capstyle="butt")


def plus(ax, x, y, r=0.22, color=INK):
    "A circled plus: the residual add."
    ax.add_patch(Circle((x, y), r, fc="white", ec=color, lw=1.2, zorder=3))
    ax.text(x, y, "+", ha="center", va="center", fontsize=12, color=color, zorder=4)


def grid(ax, x, y, w, h, values, color, empty=None):
    "A matrix as cells: values[i, j] in 0..1 shade cell (row i from the top, column j); NaN cells get `empty`."
    n, m = values.shape
    cw, ch = w / m, h / n
    for i in range(n):
        for j in range(m):
            v = values[i, j]
            fc = empty if np.isnan(v) else tint(color, 0.08 + 0.82 * v)
            ax.add_patch(Rectangle((x + j * cw, y + h - (i + 1) * ch), cw, ch, fc=fc, ec="white", lw=0.8))
    ax.add_patch(Rectangle((x, y), w, h, fc="none", ec=color, lw=1.2))


def softmax_rows(s):
    e = np.exp(s - np.nanmax(s, axis=1, keepdims=True))
    e = np.where(np.isnan(e), 0.0, e)
    return e / e.sum(axis=1, keepdims=True)


def head():
    fig, ax = canvas(8.6, 4.5)
    T = 6
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(T, T))
    causal = np.tril(np.ones((T, T), dtype=bool))
    masked = np.where(causal, scores, np.nan)
    weights = softmax_rows(masked)

    def shape(x, y, s, **kw):
        ax.text(x, y, s, ha=kw.pop("ha", "center"), va="top", fontsize=9, color=MUTED, **kw)

    # x (T, C): one row per token
    xx, xy, xw, th = 0.3, 3.5, 2.6, 2.0
    grid(ax, xx, xy, xw, th, np.full((T, 1), 0.25), GREY)
    ax.text(xx + xw / 2, xy + th / 2, "x", ha="center", va="center", fontsize=13, color=INK)
    ax.text(xx + xw / 2, xy + th + 0.12, "token embeddings", ha="center", va="bottom", fontsize=10, color=INK)
    shape(xx + xw / 2, xy - 0.12, "(T, C)")
    ax.text(xx + xw / 2, xy - 0.6, "one row per token", ha="center", va="top", fontsize=9, color=MUTED)

    # Q, K, V (T, hs)
    hw, qx = 1.0, 5.3
    ys = {"Q": 6.3, "K": 3.5, "V": 0.7}
    colors = {"Q": BLUE, "K": ORANGE, "V": GREEN}
    for name, y in ys.items():
        grid(ax, qx, y, hw, th, np.full((T, 1), 0.3), colors[name])
        ax.text(qx + hw / 2, y + th / 2, name, ha="center", va="center", fontsize=13, color=INK)
        shape(qx + hw / 2, y - 0.1, "(T, hs)")
        arrow(ax, (xx + xw, xy + th / 2), (qx, y + th / 2), color=colors[name])
        mx, my = (xx + xw + qx) / 2, (xy + th / 2 + y + th / 2) / 2
        ax.text(mx, my, "Linear", ha="center", va="center", fontsize=9, color=colors[name],
                bbox=dict(fc="white", ec="none", pad=1.0))
    ax.text(xx + xw / 2, xy - 1.05, "Linear: C → hs, no bias", ha="center", va="top", fontsize=9, color=MUTED)

    # scores, mask, softmax: (T, T)
    sy, sw = 4.9, 2.0
    sx = [7.9, 10.9, 13.9]
    grid(ax, sx[0], sy, sw, sw, (scores - scores.min()) / np.ptp(scores), PURPLE)
    grid(ax, sx[1], sy, sw, sw, np.where(causal, (scores - scores.min()) / np.ptp(scores), np.nan), PURPLE,
         empty=tint(RED, 0.35))
    grid(ax, sx[2], sy, sw, sw, np.where(causal, weights, np.nan), PURPLE, empty="white")
    titles = [("scores", "Q Kᵀ / √hs"), ("causal mask", "future → −∞"), ("softmax", "each row sums to 1")]
    for x, (t, sub) in zip(sx, titles):
        ax.text(x + sw / 2, sy + sw + 0.5, t, ha="center", va="bottom", fontsize=10, color=INK)
        ax.text(x + sw / 2, sy + sw + 0.1, sub, ha="center", va="bottom", fontsize=9, color=MUTED)
    shape(sx[0] + sw / 2, sy - 0.1, "(T, T)")
    shape(sx[1] + sw / 2, sy - 0.1, "(T, T)")
    shape(sx[2] + sw / 2 + 0.12, sy - 0.1, "(T, T) weights", ha="left")
    arrow(ax, (qx + hw, ys["Q"] + th / 2), (sx[0], sy + sw * 0.75), color=BLUE)
    arrow(ax, (qx + hw, ys["K"] + th / 2), (sx[0], sy + sw * 0.25), color=ORANGE)
    ax.text(6.75, ys["K"] + th / 2 - 0.15, "Kᵀ", ha="center", va="top", fontsize=9, color=ORANGE)
    for a, b in zip(sx, sx[1:]):
        arrow(ax, (a + sw, sy + sw / 2), (b, sy + sw / 2), color=PURPLE)

    # weights @ V -> out (T, hs)
    cx, cy = sx[2] + sw / 2, ys["V"] + th / 2
    ax.add_patch(Circle((cx, cy), 0.3, fc="white", ec=INK, lw=1.2, zorder=3))
    ax.text(cx, cy, "@", ha="center", va="center", fontsize=12, color=INK, zorder=4)
    arrow(ax, (cx, sy), (cx, cy + 0.3), color=PURPLE)
    arrow(ax, (qx + hw, cy), (cx - 0.3, cy), color=GREEN)
    ax.text((qx + hw + cx) / 2, cy + 0.12, "values, weighted by each row", ha="center", va="bottom", fontsize=9,
            color=MUTED)
    ax.text(cx, cy - 0.42, "weights @ V", ha="center", va="top", fontsize=9, color=INK)
    ox = 15.9
    grid(ax, ox, ys["V"], hw, th, np.full((T, 1), 0.3), TEAL)
    ax.text(ox + hw / 2, ys["V"] + th / 2, "out", ha="center", va="center", fontsize=11, color=INK)
    shape(ox + hw / 2, ys["V"] - 0.1, "(T, hs)")
    arrow(ax, (cx + 0.3, cy), (ox, cy))
    return fig


def mask():
    fig = plt.figure(figsize=(8.6, 3.9))
    T, row = 8, 5
    ax = fig.add_axes([0.075, 0.15, 0.36, 0.72])
    for i in range(T):
        for j in range(T):
            ok = j <= i
            ax.add_patch(Rectangle((j, i), 1, 1, fc=tint(PURPLE, 0.55 if ok else 0.0), ec="white" if ok else "#cfd8dc",
                                   lw=1.0))
            if not ok:
                ax.text(j + 0.5, i + 0.5, "−∞", ha="center", va="center", fontsize=9, color=tint(RED, 0.8))
    ax.add_patch(Rectangle((0, row), T, 1, fc="none", ec=INK, lw=2.0))
    ax.set_xlim(0, T)
    ax.set_ylim(T, 0)
    ax.set_aspect("equal")
    ax.set_xticks(np.arange(T) + 0.5, [str(j) for j in range(T)])
    ax.set_yticks(np.arange(T) + 0.5, [str(i) for i in range(T)])
    ax.tick_params(length=0, labelsize=9)
    ax.xaxis.set_ticks_position("top")
    ax.xaxis.set_label_position("top")
    ax.set_xlabel("key position j (column)", fontsize=10)
    ax.set_ylabel("query position i (row)", fontsize=10)
    for s in ax.spines.values():
        s.set_visible(False)
    ax.text(T / 2, T + 0.35, "row i sees keys j ≤ i", ha="center", va="top", fontsize=10, color=INK)

    scores = np.array([0.3, -0.6, 1.1, 0.2, -0.2, 0.9, 0.5, -0.4])
    w = np.where(np.arange(T) <= row, np.exp(scores), 0.0)
    w /= w.sum()
    bx = fig.add_axes([0.6, 0.2, 0.37, 0.62])
    fig.add_artist(ConnectionPatch((T + 0.15, row + 0.5), (0.53, 0.375), ax.transData, fig.transFigure,
                                   arrowstyle="-|>", mutation_scale=11, color=INK, lw=1.2))
    keys = np.arange(T)
    bx.bar(keys, w, color=[tint(PURPLE, 0.55) if k <= row else "white" for k in keys], edgecolor=PURPLE, lw=1.0)
    for k in keys:
        if k <= row:
            bx.text(k, w[k] + 0.008, f"{w[k]:.2f}", ha="center", va="bottom", fontsize=9, color=INK)
        else:
            bx.text(k, 0.008, "0", ha="center", va="bottom", fontsize=9, color=RED)
    bx.set_xticks(keys, [str(k) for k in keys])
    bx.tick_params(labelsize=9)
    bx.set_ylim(0, 0.36)
    bx.set_yticks([0, 0.1, 0.2, 0.3])
    bx.set_xlabel("key position j", fontsize=10)
    bx.set_ylabel("attention weight", fontsize=10)
    bx.set_title(f"row {row} after softmax: sums to {w.sum():.0f}", fontsize=10, color=INK, pad=8)
    bx.text(row + 1.5, 0.06, "future:\nweight 0", ha="center", va="bottom", fontsize=9, color=RED)
    return fig


def residual():
    fig, ax = canvas(8.6, 6.6)
    sx = 6.2  # the stream's x
    bw, bh = 2.6, 0.75

    # embeddings
    box(ax, sx - 1.2, 0.25, 2.4, bh, "idx (B, T)", GREY, fs=10)
    box(ax, sx - 4.4, 1.7, 3.0, bh, "token embedding", BLUE)
    box(ax, sx + 1.4, 1.7, 3.0, bh, "position embedding", BLUE)
    arrow(ax, (sx - 1.2, 0.25 + bh / 2), (sx - 2.9, 1.7), color=INK)
    ax.text(sx + 2.9, 1.5, "positions 0 … T−1", ha="center", va="top", fontsize=9, color=MUTED)
    plus(ax, sx, 2.075)
    arrow(ax, (sx - 1.4, 2.075), (sx - 0.22, 2.075))
    arrow(ax, (sx + 1.4, 2.075), (sx + 0.22, 2.075))

    # the stream
    top = 10.2
    line(ax, [sx, sx], [2.3, top], color=INK, lw=3.0)
    ax.text(sx - 0.25, 3.1, "residual stream", ha="right", va="bottom", fontsize=10, color=INK)
    ax.text(sx - 0.25, 3.05, "x  (B, T, C)", ha="right", va="top", fontsize=9, color=MUTED)
    ax.text(sx - 0.25, 9.6, "x  (B, T, C)", ha="right", va="center", fontsize=9, color=MUTED)

    # one block: two read-modify-add branches
    ax.add_patch(FancyBboxPatch((1.6, 3.75), 15.2, 5.3, boxstyle="round,pad=0,rounding_size=0.2", fc="none",
                                ec=LINE, lw=1.2, ls="--"))
    ax.text(sx + 10.4, 8.85, "block, repeated N× (n_layer)", ha="right", va="top", fontsize=10, color=MUTED)
    branches = [(4.3, "causal self-attention", PURPLE, "x = x + attn(ln_1(x))"),
                (6.6, "MLP  C → 4C → C", TEAL, "x = x + mlp(ln_2(x))")]
    for y, name, color, eq in branches:
        lx, ax_ = sx + 1.4, sx + 4.7
        ax.add_patch(Circle((sx, y), 0.08, color=INK, zorder=3))
        arrow(ax, (sx, y), (lx, y))
        box(ax, lx, y - bh / 2, 2.3, bh, "LayerNorm", GREY)
        arrow(ax, (lx + 2.3, y), (ax_, y))
        box(ax, ax_, y - bh / 2, 4.2, bh, name, color)
        ry = y + 1.3
        line(ax, [ax_ + 2.1, ax_ + 2.1], [y + bh / 2, ry])
        arrow(ax, (ax_ + 2.1, ry), (sx + 0.22, ry))
        plus(ax, sx, ry)
        ax.text(sx - 0.45, ry, eq, ha="right", va="center", fontsize=9.5, color=INK, family="DejaVu Sans Mono")

    # the end: final norm, head, logits
    box(ax, sx - 1.5, top, 3.0, bh, "final LayerNorm", GREY)
    arrow(ax, (sx, top + bh), (sx, top + 1.15))
    box(ax, sx - 1.5, top + 1.15, 3.0, bh, "lm_head  C → V", ORANGE)
    ax.text(sx + 2.5, top + 1.15 + bh / 2, "logits (B, T, V)", ha="left", va="center", fontsize=10, color=INK)
    arrow(ax, (sx + 1.5, top + 1.15 + bh / 2), (sx + 2.35, top + 1.15 + bh / 2))
    return fig


def kvcache():
    fig, ax = canvas(8.6, 4.7)
    n, cw = 8, 0.5  # block_size, cell width
    gx, P = 2.9, 3
    ax.text(0.2, 9.1, "per layer: k_cache and v_cache, each (B, n_head, block_size, hs)", ha="left", va="center",
            fontsize=10, color=INK)
    for s in range(n):
        ax.text(gx + (s + 0.5) * cw, 8.45, str(s), ha="center", va="center", fontsize=9, color=MUTED)
    ax.text(gx - 0.15, 8.45, "slot = position", ha="right", va="center", fontsize=9, color=MUTED)
    steps = [("prefill 0 … 2", list(range(P)), P - 1)] + [(f"decode pos {p}", [p], p) for p in (3, 4, 5)]
    sh, y = 0.34, 7.6  # strip height, top strip's y
    for name, new, pos in steps:
        for k, (lab, color) in enumerate([("k", ORANGE), ("v", GREEN)]):
            yy = y - k * sh
            for s in range(n):
                if s in new:
                    fc = tint(color, 0.85)
                elif s <= pos:
                    fc = tint(color, 0.3)
                else:
                    fc = "white"
                ax.add_patch(Rectangle((gx + s * cw, yy), cw, sh, fc=fc, ec="#cfd8dc", lw=0.8))
            ax.text(gx + n * cw + 0.1, yy + sh / 2, lab, ha="left", va="center", fontsize=9, color=color)
        ax.add_patch(Rectangle((gx, y - sh), (pos + 1) * cw, 2 * sh, fc="none", ec=INK, lw=1.6))
        ax.text(gx - 0.15, y, name, ha="right", va="center", fontsize=10, color=INK)
        y -= 1.25
    ax.text(gx + n * cw + 0.45, 7.45, "P slots, one pass;\ncausal mask inside", ha="left", va="center",
            fontsize=9, color=MUTED)
    ax.text(gx + n * cw + 0.45, 5.0, "one slot a step;\nsees slots ≤ pos", ha="left", va="center",
            fontsize=9, color=MUTED)
    # legend
    ly = 2.2
    items = [(tint(ORANGE, 0.85), "written this step"), (tint(ORANGE, 0.3), "written before"), ("white", "empty")]
    lx = 0.4
    for fc, text in items:
        ax.add_patch(Rectangle((lx, ly), 0.5, 0.34, fc=fc, ec="#cfd8dc", lw=0.8))
        ax.text(lx + 0.65, ly + 0.17, text, ha="left", va="center", fontsize=9, color=INK)
        lx += 2.9
    ax.add_patch(Rectangle((0.4, ly - 0.75), 0.5, 0.34, fc="none", ec=INK, lw=1.6))
    ax.text(1.05, ly - 0.58, "what the query at pos attends to (its mask row)", ha="left", va="center", fontsize=9,
            color=INK)
    ax.text(0.4, 0.7, "fixed shapes: the decode step is the same every time", ha="left", va="center", fontsize=9,
            color=MUTED)

    # the ring
    line(ax, [10.45, 10.45], [0.4, 8.9], color=LINE, lw=1.0)
    cx, cy, r0, r1, pos = 13.85, 5.5, 1.2, 2.1, 11
    ax.text(cx, 9.1, "rotary models past block_size: a ring", ha="center", va="center", fontsize=10, color=INK)
    for s in range(n):
        held = s + n if s <= pos % n else s
        a0 = 90 - (s + 1) * 360 / n  # slot 0 at the top, clockwise
        fc = tint(ORANGE, 0.85) if held == pos else tint(ORANGE, 0.3)
        ax.add_patch(Wedge((cx, cy), r1, a0, a0 + 360 / n, width=r1 - r0, fc=fc, ec="white", lw=2.0))
        mid = np.deg2rad(a0 + 180 / n)
        rm = (r0 + r1) / 2
        ax.text(cx + rm * np.cos(mid), cy + rm * np.sin(mid), str(held), ha="center", va="center", fontsize=11,
                color=INK)
        ax.text(cx + (r1 + 0.35) * np.cos(mid), cy + (r1 + 0.35) * np.sin(mid), f"slot {s}", ha="center",
                va="center", fontsize=9, color=MUTED)
    ax.add_patch(Wedge((cx, cy), r1, 90 - (pos % n + 2) * 360 / n, 90 - (pos % n + 1) * 360 / n, width=r1 - r0,
                       fc="none", ec=RED, lw=1.6, ls="--"))
    ax.text(cx, cy + 0.25, f"pos {pos} → slot {pos % n}", ha="center", va="center", fontsize=9.5, color=INK)
    ax.text(cx, cy - 0.25, f"({pos} % {n})", ha="center", va="center", fontsize=9, color=MUTED)
    ax.text(cx, 2.55, f"pos {pos} sees {pos - n + 1} … {pos}, the last block_size", ha="center", va="center",
            fontsize=9.5, color=INK)
    ax.text(cx, 1.95, f"next: pos {pos + 1} overwrites slot {(pos + 1) % n}", ha="center", va="center", fontsize=9,
            color=RED)
    ax.text(cx, 1.05, "keys carry their rotation,\nso slot order does not matter", ha="center", va="center",
            fontsize=9, color=MUTED)
    return fig


def parallel():
    fig, ax = canvas(8.6, 5.0)
    nb = 4  # blocks in the model
    parts = [("weights", BLUE, 1.0), ("grads", ORANGE, 1.0), ("Adam m, v", PURPLE, 2.0)]
    unit = 1.7  # drawing width of one copy of the weights

    def rank_box(x, y, rank, sharded):
        w, h = 5.6, 2.6 if not sharded else 3.05
        box(ax, x, y, w, h, color=LINE, fill=0.0, lw=1.0)
        ax.text(x + 0.15, y + h - 0.12, f"rank {rank}", ha="left", va="top", fontsize=10, color=INK)
        by = y + h - 0.85
        for name, color, size in parts:
            ax.text(x + 1.85, by + 0.17, name, ha="right", va="center", fontsize=9, color=INK)
            seg = size * unit / nb
            for b in range(nb):
                for half in range(2):
                    held = not sharded or half == rank
                    ax.add_patch(Rectangle((x + 2.0 + b * seg + half * seg / 2, by), seg / 2, 0.34,
                                           fc=tint(color, 0.7) if held else "white", ec=color if held else LINE,
                                           lw=0.6, ls="-" if held else ":"))
                ax.add_patch(Rectangle((x + 2.0 + b * seg, by), seg, 0.34, fc="none", ec=color, lw=1.4))
            by -= 0.55
        if sharded:
            seg = unit / nb
            ax.text(x + 1.85, by + 0.17, "1 block", ha="right", va="center", fontsize=9, color=INK)
            ax.add_patch(Rectangle((x + 2.0, by), seg, 0.34, fc=tint(BLUE, 0.7), ec=BLUE, lw=1.0, hatch="////"))
            ax.text(x + 2.0 + seg + 0.12, by + 0.17, "gathered, then freed", ha="left", va="center", fontsize=9,
                    color=MUTED)
        return w, h

    # DDP, left column
    x0, x1 = 0.25, 6.35
    ax.text(x0 + 2.8, 9.65, "DDP: every rank holds everything", ha="center", va="center", fontsize=10, color=INK)
    w, h = rank_box(x0, 6.35, 0, False)
    ax.text(x0 + 2.15 + unit, 6.35 + h - 0.68, f"← {nb} blocks", ha="left", va="center", fontsize=9, color=MUTED)
    rank_box(x0, 0.95, 1, False)
    arrow(ax, (x0 + 2.8, 6.3), (x0 + 2.8, 3.6), style="<|-|>", color=ORANGE, lw=1.5)
    ax.text(x0 + 3.0, 5.15, "all-reduce grads", ha="left", va="center", fontsize=9.5, color=ORANGE)
    ax.text(x0 + 3.0, 4.7, "(in backward)", ha="left", va="center", fontsize=9, color=MUTED)

    # FSDP, middle column
    ax.text(x1 + 2.8, 9.65, "FSDP: each rank holds half of each block", ha="center", va="center", fontsize=10,
            color=INK)
    rank_box(x1, 5.9, 0, True)
    rank_box(x1, 0.5, 1, True)
    arrow(ax, (x1 + 1.0, 5.85), (x1 + 1.0, 3.6), style="<|-|>", color=BLUE, lw=1.5)
    ax.text(x1 + 1.2, 5.05, "all-gather a block's weights", ha="left", va="center", fontsize=9.5, color=BLUE)
    ax.text(x1 + 1.2, 4.65, "just in time (fwd, bwd)", ha="left", va="center", fontsize=9, color=MUTED)
    arrow(ax, (x1 + 4.9, 5.85), (x1 + 4.9, 3.6), style="<|-|>", color=ORANGE, lw=1.5)
    ax.text(x1 + 4.7, 4.0, "reduce-scatter grads", ha="right", va="center", fontsize=9.5, color=ORANGE)

    # memory per rank
    mx = fig.add_axes([0.81, 0.14, 0.17, 0.68])
    gathered = 1.0 / nb
    stacks = {"DDP": [1.0, 1.0, 2.0, 0.0], "FSDP": [0.5, 0.5, 1.0, gathered]}
    colors = [BLUE, ORANGE, PURPLE, BLUE]
    for i, (name, vals) in enumerate(stacks.items()):
        bottom = 0.0
        for v, c, hatch in zip(vals, colors, ["", "", "", "////"]):
            if v:
                mx.bar(i, v, bottom=bottom, width=0.6, color=tint(c, 0.7), edgecolor=c, lw=1.0, hatch=hatch)
            bottom += v
        mx.text(i, bottom + 0.08, f"{bottom:g}", ha="center", va="bottom", fontsize=9, color=INK)
    mx.set_xticks([0, 1], list(stacks))
    mx.set_xlim(-0.55, 1.55)
    mx.set_ylim(0, 4.6)
    mx.set_yticks([0, 1, 2, 3, 4])
    mx.tick_params(labelsize=9)
    mx.set_ylabel("memory per rank (× weights)", fontsize=9.5)
    mx.set_title("activations aside", fontsize=9, color=MUTED, pad=6)
    return fig


DIAGRAMS = {"head": head, "mask": mask, "residual": residual, "kvcache": kvcache, "parallel": parallel}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--png", help="also write a PNG twin of each diagram into this folder")
    args = p.parse_args()
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, draw in DIAGRAMS.items():
        fig = draw()
        path = out_dir / f"diagram_{name}.svg"
        fig.savefig(path, format="svg", metadata={"Date": None, "Creator": "nanogpt scripts/diagrams.py"})
        if args.png:
            fig.savefig(pathlib.Path(args.png) / f"diagram_{name}.png", dpi=110)
        plt.close(fig)
        print(f"{path.relative_to(root)}  {path.stat().st_size / 1024:.1f} KB")


if __name__ == "__main__":
    main()
