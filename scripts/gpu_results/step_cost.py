# Where a speedrun step's time goes on the GPU: the 6 x 384 character model, batch 64 x 256, bf16, compiled.
import json, sys, time, torch
from nanogpt.core import autocast, use_device
from nanogpt.model import GPT, GPTConfig
from nanogpt.optim import configure_optimizer
dev = use_device("cuda" if torch.cuda.is_available() else "cpu")
small = "--smoke" in sys.argv
M = dict(pos_emb="rope", qk_norm=True, mlp_act="relu2", norm="rmsnorm", tie_head=False, zero_init=True)
shape = dict(block_size=32, vocab_size=65, n_layer=2, n_head=2, n_embd=32) if small else dict(block_size=256, vocab_size=65, n_layer=6, n_head=6, n_embd=384)
B = 4 if small else 64
out = {}
for name, kw, opt_name in (("gpt2+adamw", {}, "adamw"), ("modern+adamw", M, "adamw"), ("modern+muon", M, "muon"), ("gpt2+muon", {}, "muon")):
    torch.manual_seed(0)
    model = GPT(GPTConfig(dropout=0.2, bias=False, **shape, **kw)).to(dev)
    opt = configure_optimizer(model, 0.1, 1e-3, (0.9, 0.99), dev, opt_name, 0.03)
    step = torch.compile(model)
    x = torch.randint(0, 65, (B, shape["block_size"]), device=dev)
    def train_step():
        with autocast(dev, torch.bfloat16):
            loss = step(x, x)[1]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(); opt.zero_grad(set_to_none=True)
    def fwd_bwd():
        with autocast(dev, torch.bfloat16):
            loss = step(x, x)[1]
        loss.backward()
        model.zero_grad(set_to_none=True)
    res = {}
    for label, fn in (("step", train_step), ("fwd_bwd", fwd_bwd)):
        for _ in range(5): fn()
        if dev.startswith("cuda"): torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(30): fn()
        if dev.startswith("cuda"): torch.cuda.synchronize()
        res[label + "_ms"] = (time.perf_counter() - t) / 30 * 1e3
    for p in model.parameters(): p.grad = torch.randn_like(p)
    for _ in range(3): opt.step()
    if dev.startswith("cuda"): torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(30): opt.step()
    if dev.startswith("cuda"): torch.cuda.synchronize()
    res["optimizer_ms"] = (time.perf_counter() - t) / 30 * 1e3
    out[name] = res
    print(name, {k: round(v, 2) for k, v in res.items()}, flush=True)
json.dump(out, open(sys.argv[1], "w"), indent=1)
