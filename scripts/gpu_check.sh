#!/usr/bin/env bash
# The GPU check of the bench chapter, for one H100/H200-class GPU with no network (about 5-8 minutes):
#   1. prepare shakespeare_char from a local copy of tiny Shakespeare (.gpu/input.txt);
#   2. train train_shakespeare_char (6 x 384, 5,000 iterations, bf16, compiled): wall time, best val loss
#      (nanoGPT's README: 1.4697 in about 3 minutes on one A100);
#   3. benchmark GPT-2 124M, batch 12 x block 1024, bf16, compiled: ms/iter and MFU against the GPU's peak
#      (nanoGPT: ~135 ms/iter, ~25% MFU on an A100; our target: >= 45% on an H100), and generation
#      tokens/s: nanoGPT's recompute against the KV cache, eager and compiled (the compiled step as a CUDA graph).
# Needs torch with CUDA, numpy, and the repository (run from anywhere: it cds to the repo root). No install:
# it runs the package from the source tree. Results go to .gpu/results/ and, when set, to $OUT.
#   mkdir -p .gpu && cp path/to/input.txt .gpu/ && bash scripts/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
work=.gpu
results=$work/results
[ -f "$work/input.txt" ] || { echo "error: put tiny Shakespeare's input.txt in $work/ first" >&2; exit 1; }
rm -rf "$results" "$work/out-shakespeare-char" && mkdir -p "$results"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$results/gpu.txt"
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$results/gpu.txt"

echo "== 1/3 prepare shakespeare_char"
python -m nanogpt.corpus shakespeare_char --input "$work/input.txt" --data_dir "$work/data"

echo "== 2/3 train train_shakespeare_char (bf16, compiled)"
start=$(date +%s.%N)
python -m nanogpt.train train_shakespeare_char --data_dir="$work/data" --out_dir="$work/out-shakespeare-char" \
    --dtype=bfloat16 --compile=True --log_interval=100 2>&1 | tee "$results/train.log"
end=$(date +%s.%N)
echo "$start $end" > "$results/train_wall.txt"

echo "== 3/3 bench gpt2 (124M), batch 12 x 1024, bf16, compiled; generation"
python -m nanogpt.bench --model=gpt2 --batch_size=12 --block_size=1024 --variants=bf16,bf16+compile --warmup=5 --iters=20 \
    --generate=256,1024 --json > "$results/bench_gpt2.json"

python - "$results" "$work/out-shakespeare-char" <<'PY'
import json, sys
from pathlib import Path
results, run = Path(sys.argv[1]), Path(sys.argv[2])
start, end = map(float, (results / "train_wall.txt").read_text().split())
evals = [json.loads(l) for l in open(run / "log.jsonl") if "val_loss" in l]
steps = [json.loads(l) for l in open(run / "log.jsonl") if '"loss"' in l]
bench = json.loads((results / "bench_gpt2.json").read_text())
t = bench["train"][-1]  # bf16+compile
summary = {
    "gpu": (results / "gpu.txt").read_text().strip(),
    "shakespeare_char": {"wall_s": round(end - start, 1), "best_val_loss": min(e["val_loss"] for e in evals),
                         "ms_per_iter_last": steps[-1]["ms_per_iter"], "mfu_last": steps[-1]["mfu"]},
    "gpt2_train_steps": [{k: x[k] for k in ("variant", "median_ms", "mfu", "tokens_per_s", "warmup_s", "peak_mem_mb")} for x in bench["train"]],
    "gpt2_train_step": {"variant": t["variant"], "median_ms": t["median_ms"], "mfu": t["mfu"],
                        "tokens_per_s": t["tokens_per_s"], "compile_and_warmup_s": t["warmup_s"], "peak_mem_mb": t["peak_mem_mb"]},
    "gpt2_generate": bench["generate"],
}
(results / "summary.json").write_text(json.dumps(summary, indent=1))
print(json.dumps(summary, indent=1))
PY
if [ -n "${OUT:-}" ]; then cp -r "$results" "$OUT/"; fi
