#!/usr/bin/env bash
# Make the project's virtual environment (.venv) ready, doing only what is missing:
#   - create it if it is missing or broken, and rebuild it if settings.ini or setup.py changed since it was made;
#   - install torch in the build that fits this machine: PyTorch's CPU-only wheels where `nvidia-smi` finds no GPU
#     (where that index cannot be reached, the torch version CI tests, from whatever index pip can reach, and it
#     says so), PyPI's CUDA build where there is a GPU;
#   - install this package (with --dev: and what the notebooks and tests need, plus Chromium for the browser test).
#   bash scripts/setup.sh [--dev]          (make demo and make test call it; NANOGPT_VENV names another folder)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${NANOGPT_VENV:-.venv}
dev=0; [ "${1:-}" = "--dev" ] && dev=1
tested_torch=2.13.0  # the version CI installs and tests
cpu_index=https://download.pytorch.org/whl/cpu
stamp="$venv/.setup-stamp"
recipe=$(cat settings.ini setup.py | sha256sum | cut -c1-16)
say() { echo "setup: $*"; }

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import sys" 2>/dev/null; then
  if [ -f "$stamp" ] && [ "$(head -1 "$stamp")" != "$recipe" ]; then
    say "settings.ini or setup.py changed since $venv was made: rebuilding it"
    rm -rf "$venv"
  fi
else
  rm -rf "$venv"
fi
if [ ! -d "$venv" ]; then
  say "creating the virtual environment $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
fi
pip=("$venv/bin/pip" install -q)

if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    say "a GPU is here: installing torch from PyPI (its Linux wheels are CUDA builds)"
    "${pip[@]}" torch
  elif "$venv/bin/python" -c "import urllib.request as u; u.urlopen('$cpu_index/torch/', timeout=10)" 2>/dev/null; then
    say "no GPU: installing the CPU-only torch from $cpu_index"
    "${pip[@]}" torch --index-url "$cpu_index"
  else
    say "no GPU, and $cpu_index cannot be reached: installing torch==$tested_torch from the index pip can reach"
    say "(on a machine whose index only serves CUDA builds, that is a large download)"
    "${pip[@]}" "torch==$tested_torch"
  fi
fi

if [ ! -f "$stamp" ] || [ "$(head -1 "$stamp")" != "$recipe" ] || { [ "$dev" = 1 ] && ! grep -qx dev "$stamp"; }; then
  if [ "$dev" = 1 ] || grep -qsx dev "$stamp"; then
    say "installing the package with what the notebooks and tests need"
    "${pip[@]}" -e ".[dev]"
    printf '%s\ndev\n' "$recipe" > "$stamp"
  else
    say "installing the package"
    "${pip[@]}" -e .
    printf '%s\n' "$recipe" > "$stamp"
  fi
else
  say "$venv is up to date"
fi

if [ "$dev" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Chromium (Debian's) for the playground's browser test"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    say "no /usr/bin/chromium and no root apt-get: the playground's browser test will be skipped"
  fi
fi
