#!/usr/bin/env bash
# The GPU check of the bench chapter: one H100/H200-class GPU, no network; 3.5 minutes on an H200 (4 with --ddp).
#
#   bash scripts/gpu_check.sh [--ddp] [--speedrun] [--memory] [path/to/tiny-shakespeare/input.txt]
#
# The text comes from the argument, else $NANOGPT_SHAKESPEARE, else .gpu/input.txt. It needs torch with CUDA, numpy
# and tiktoken, and runs the package from this source tree (no install). Each stage runs under its own time limit and
# a failed stage does not stop the others. Results go to .gpu/results/ (summary.json holds every figure) and, when
# $OUT is set, to $OUT/ after every stage, so a run cut short still returns what it measured.
#   1. the GPU, torch, and the measured bf16/TF32 matmul peaks and copy bandwidth beside the data-sheet peak;
#   2. prepare shakespeare_char;
#   3. train train_shakespeare_char (6 x 384, 5,000 iterations, bf16, compiled): wall time, best val loss and when it
#      came (nanoGPT's README: 1.4697 in about 3 minutes on one A100; its users report ~1.48 near iteration 1,750);
#   4. GPT-2 124M, batch 12 x 1024: the trainer's own step (nanogpt-bench: train_step on a run built by build_run) in
#      bf16, eager and compiled (ms/iter, MFU, peak memory; nanoGPT: ~135 ms/iter, ~25% MFU on an A100), and 1,024
#      generated tokens/s: nanoGPT's recompute against the KV cache, eager and compiled (a CUDA graph);
#   5. with --ddp: the compiled step wrapped as the trainer wraps it under torchrun, torch.compile(DDP(model)), in a
#      process group of one (what the wrapper costs before any communication).
# With --speedrun, stages 3 to 5 give way to the speedrun chapter's comparison: train_shakespeare_char cut at 2,000
# iterations (its best comes near 1,750) against speedrun_shakespeare_char, seeds 1337 and 1, each with the time it
# took to reach nanoGPT's 1.47; then the trainer's step of that 6 x 384 model at batch 64, bf16, compiled, with
# GPT-2's architecture and the speedrun's switches, each with AdamW and with Muon (nanogpt-bench --optimizer and the
# switches: where the speedrun's step time goes). With --memory, they give way to the train chapter's memory estimate against the
# measured peak (torch.cuda.max_memory_allocated) of bf16 training steps: GPT-2 124M and 350M (batch 12 x 1024) and a
# GPT-2 XL step at batch 1 (the finetune recipe's micro-batch), each with and without activation checkpointing.
#
# On a device lent by this workplace (the `device` tool), which receives the tree without ignored files, from the
# repository root here:
#   echo /.gpu/ >> .git/info/exclude; mkdir -p .gpu; cp ../shared/data/tinyshakespeare/input.txt .gpu/
#   device run: command "bash scripts/gpu_check.sh --ddp", carry [".gpu"], timeout_s 420
# then copy the figures from summary.json into the bench chapter's "On a GPU" section.
#
# GPU_CHECK_SMOKE=1 runs the same stages on the CPU with tiny models (a minute): a check of this script, not of a GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
ddp=0 speedrun=0 memory=0
while [ "${1:-}" = "--ddp" ] || [ "${1:-}" = "--speedrun" ] || [ "${1:-}" = "--memory" ]; do
  case $1 in --ddp) ddp=1 ;; --speedrun) speedrun=1 ;; --memory) memory=1 ;; esac
  shift
done
input=${1:-${NANOGPT_SHAKESPEARE:-.gpu/input.txt}}
[ -f "$input" ] || { echo "error: no tiny Shakespeare at $input; give its input.txt as the argument or in NANOGPT_SHAKESPEARE" >&2; exit 1; }
work=.gpu results=.gpu/results
rm -rf "$results" "$work"/out-* && mkdir -p "$results"
echo "{}" > "$results/stages.json"

if [ -n "${GPU_CHECK_SMOKE:-}" ]; then  # CPU, tiny: every stage's code path in about a minute
  dev=cpu dtype=float32 prec=fp32 bench_model=tiny gen=32 bench_iters=3
  train_size=(--n_layer=2 --n_head=2 --n_embd=32 --block_size=32 --batch_size=4 --max_iters=40 --eval_interval=20
              --eval_iters=2 --lr_decay_iters=40 --warmup_iters=5)
  cut=(--max_iters=40) speedrun_size=("${train_size[@]}") memory_models=(tiny:4 shakespeare_char_cpu:4)
  step_model=tiny step_batch=4 step_variant=fp32
else
  dev=cuda dtype=bfloat16 prec=bf16 bench_model=gpt2 gen=1024 bench_iters=20 train_size=() speedrun_size=()
  cut=(--max_iters=2000) memory_models=(gpt2:12 gpt2-medium:12 gpt2-xl:1)
  step_model=shakespeare_char step_batch=64 step_variant=bf16+compile
fi

stage() {  # stage NAME SECONDS COMMAND...: run it under a time limit, record its exit status and time, copy results out
  local name=$1 limit=$2 t0=$SECONDS rc
  shift 2
  echo "== $name (limit ${limit}s)"
  timeout --kill-after=10 "$limit" "$@"
  rc=$?
  python - "$results/stages.json" "$name" "$rc" "$((SECONDS - t0))" <<'PY'
import json, sys
path, name, rc, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
stages = json.load(open(path))
stages[name] = {"exit": rc, "seconds": secs, "timed_out": rc in (124, 137)}
json.dump(stages, open(path, "w"), indent=1)
PY
  [ -n "${OUT:-}" ] && cp "$results"/* "$OUT/" 2>/dev/null
  return 0
}

stage device 60 python - "$dev" "$results/device.json" <<'PY'
import json, sys, torch
from nanogpt.core import measure_bandwidth, measure_matmul_flops, peak_flops, use_device
dev, path = sys.argv[1], sys.argv[2]
use_device(dev)
info = {"torch": torch.__version__, "cuda": torch.version.cuda,
        "name": torch.cuda.get_device_name(dev) if dev == "cuda" else "cpu",
        "bf16_peak_table": peak_flops(dev, torch.bfloat16), "bf16_matmul_measured": measure_matmul_flops(dev, torch.bfloat16),
        "fp32_matmul_measured": measure_matmul_flops(dev, torch.float32), "copy_bandwidth": measure_bandwidth(dev)}
print(json.dumps(info, indent=1))
json.dump(info, open(path, "w"), indent=1)
PY
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader \
  | tee "$results/nvidia-smi.txt"

stage prepare 60 python -m nanogpt.corpus shakespeare_char --input "$input" --data_dir "$work/data"

train() {  # train NAME LIMIT CONFIG ARGS...: a stage that trains into $work/out-NAME, its output also in $results/NAME.log
  local name=$1 limit=$2 config=$3
  shift 3
  stage "$name" "$limit" bash -o pipefail -c 'log=$1; shift; python -m nanogpt.train "$@" 2>&1 | tee "$log"' _ \
    "$results/$name.log" "$config" --data_dir="$work/data" --out_dir="$work/out-$name" --device="$dev" --dtype="$dtype" \
    --compile=True "$@"
}

if [ "$memory" = 1 ]; then
  for spec in "${memory_models[@]}"; do
    for ck in False True; do
      stage "memory_${spec%%:*}_$ck" 150 sh -c "python -m nanogpt.bench --model=${spec%%:*} --batch_size=${spec##*:} \
        --device=$dev --variants=$prec --checkpointing=$ck --memory --warmup=2 --iters=3 --json > $results/memory_${spec%%:*}_$ck.json"
    done
  done
elif [ "$speedrun" = 1 ]; then
  train shakespeare_char 200 train_shakespeare_char --log_interval=100 "${train_size[@]}" "${cut[@]}"
  train speedrun_shakespeare_char 200 speedrun_shakespeare_char "${speedrun_size[@]}"
  train speedrun_shakespeare_char_seed1 200 speedrun_shakespeare_char --seed=1 "${speedrun_size[@]}"
  modern="--pos_emb=rope --qk_norm=True --mlp_act=relu2 --norm=rmsnorm --tie_head=False --zero_init=True"
  for arch in gpt2 modern; do
    for opt in adamw muon; do
      switches=""; [ "$arch" = modern ] && switches=$modern
      stage "step_${arch}_$opt" 120 sh -c "python -m nanogpt.bench --model=$step_model --batch_size=$step_batch \
        --device=$dev --variants=$step_variant --optimizer=$opt $switches --warmup=5 --iters=$bench_iters --json \
        > $results/step_${arch}_$opt.json"
    done
  done
else
  train shakespeare_char 300 train_shakespeare_char --log_interval=100 "${train_size[@]}"
  stage bench 240 sh -c "python -m nanogpt.bench --model=$bench_model --device=$dev --variants=$prec,$prec+compile \
    --warmup=5 --iters=$bench_iters --generate=$gen --json > $results/bench.json"
  [ "$ddp" = 1 ] && stage ddp 240 sh -c "python -m nanogpt.bench --model=$bench_model --device=$dev \
    --variants=$prec+ddp,$prec+ddp+compile --warmup=5 --iters=$bench_iters --json > $results/bench_ddp.json"
fi

python - "$results" "$work" <<'PY'
import json, sys
from pathlib import Path
results, work = Path(sys.argv[1]), Path(sys.argv[2])
load = lambda name: json.loads((results / name).read_text()) if (results / name).is_file() else None
summary = {"stages": load("stages.json"), "device": load("device.json")}
for run in sorted(work.glob("out-*")):
    if not (run / "log.jsonl").is_file():
        continue
    rows = [json.loads(l) for l in open(run / "log.jsonl")]
    evals, steps = [r for r in rows if "val_loss" in r], [r for r in rows if "loss" in r]
    best = min(evals, key=lambda e: e["val_loss"], default=None)
    first = next((e for e in evals if e["val_loss"] <= 1.47), None)
    summary[run.name[4:]] = {
        "best_val_loss": best and best["val_loss"], "best_at_iter": best and best["iter"], "best_at_s": best and best["time_s"],
        "val_1.47_at_s": first and first["time_s"], "iters": steps[-1]["iter"] if steps else None,
        "run_s": rows[-1]["time_s"] if rows else None, "ms_per_iter_last": steps[-1]["ms_per_iter"] if steps else None,
        "mfu_last": steps[-1]["mfu"] if steps else None,
        "evals": [[e["iter"], round(e["train_loss"], 4), round(e["val_loss"], 4), e["time_s"]] for e in evals]}
for name in ("bench.json", "bench_ddp.json"):
    if bench := load(name):
        keep = ("variant", "median_ms", "min_ms", "mfu", "tokens_per_s", "warmup_s", "peak_mem_mb")
        summary.setdefault("train_step", []).extend({k: t[k] for k in keep} for t in bench["train"])
        summary.setdefault("generate", []).extend(bench["generate"])
for path in sorted(results.glob("step_*.json")):  # --speedrun: the trainer's step by architecture and optimizer
    if bench := load(path.name):
        t = bench["train"][0]
        summary.setdefault("step_cost", []).append({"model": bench["model"], "batch_size": bench["batch_size"],
                                                    "switches": bench["switches"], "optimizer": bench["optimizer"],
                                                    "variant": t["variant"], "median_ms": t["median_ms"], "mfu": t["mfu"]})
for path in sorted(results.glob("memory_*.json")):
    if bench := load(path.name):
        t = bench["train"][0]
        summary.setdefault("memory", []).append({"model": bench["model"], "batch_size": bench["batch_size"],
                                                 "checkpointing": path.stem.endswith("True"), "ms": t["median_ms"],
                                                 "estimate_mb": t["estimate_mb"], "peak_mb": t["peak_mem_mb"]})
(results / "summary.json").write_text(json.dumps(summary, indent=1))
print(json.dumps(summary, indent=1))
PY
[ -n "${OUT:-}" ] && cp "$results"/* "$OUT/" 2>/dev/null
failed=$(python -c "import json; print(' '.join(k for k, v in json.load(open('$results/stages.json')).items() if v['exit']))")
[ -z "$failed" ] || { echo "error: stage(s) failed: $failed (see above and $results/)" >&2; exit 1; }
