#!/usr/bin/env bash
# The README's main job, in the project's environment (make demo sets it up first): prepare tiny Shakespeare,
# train the laptop recipe, sample three texts. Run again, it reuses the prepared data and the finished run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/offline.sh
out=out-shakespeare-char-cpu
if [ -f data/shakespeare_char/meta.json ]; then
  echo "demo: data/shakespeare_char is prepared already (nanogpt-prepare shakespeare_char prepares it again)"
else
  nanogpt-prepare shakespeare_char
fi
if [ -f "$out/ckpt.pt" ] || [ -f "$out/state.pt" ]; then
  echo "demo: $out already holds a run: sampling from it (remove the folder to train afresh, or continue it with"
  echo "      nanogpt-train train_shakespeare_char_cpu --init_from=resume --max_iters=N)"
else
  nanogpt-train train_shakespeare_char_cpu
fi
nanogpt-sample --out_dir="$out" --num_samples=3 --max_new_tokens=300
