# Muon's optimizer step on the GPU: eager against torch.compile(step), 6 x 384 character model with every switch.
import json, sys, time, torch
from nanogpt.core import use_device
from nanogpt.model import GPT, GPTConfig
from nanogpt.optim import configure_optimizer
dev = use_device("cuda" if torch.cuda.is_available() else "cpu")
small = "--smoke" in sys.argv
M = dict(pos_emb="rope", qk_norm=True, mlp_act="relu2", norm="rmsnorm", tie_head=False, zero_init=True)
shape = dict(block_size=32, vocab_size=65, n_layer=2, n_head=2, n_embd=32) if small else dict(block_size=256, vocab_size=65, n_layer=6, n_head=6, n_embd=384)
out = {}
for label in ("eager", "compiled"):
    torch.manual_seed(0)
    model = GPT(GPTConfig(bias=False, **shape, **M)).to(dev)
    opt = configure_optimizer(model, 0.1, 1e-3, (0.9, 0.99), dev, "muon", 0.03)
    muon = opt.optimizers[0]
    step = torch.compile(muon.step) if label == "compiled" else muon.step
    for p in model.parameters(): p.grad = torch.randn_like(p)
    t0 = time.perf_counter()
    for _ in range(3): step()
    if dev.startswith("cuda"): torch.cuda.synchronize()
    warm = time.perf_counter() - t0
    t = time.perf_counter()
    for _ in range(30): step()
    if dev.startswith("cuda"): torch.cuda.synchronize()
    out[label] = {"muon_step_ms": (time.perf_counter() - t) / 30 * 1e3, "warmup_s": warm}
    print(label, out[label], flush=True)
json.dump(out, open(sys.argv[1], "w"), indent=1)
