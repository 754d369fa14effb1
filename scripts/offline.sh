# Sourced by scripts/demo.sh and scripts/test.sh: on a machine without network, use the offline copies of tiny
# Shakespeare and GPT-2's BPE tables in the shared data folder beside the repository, when there is one.
# Variables the user has set win.
_shared="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/shared/data"
if [ -z "${NANOGPT_SHAKESPEARE:-}" ] && [ -f "$_shared/tinyshakespeare/input.txt" ]; then
  export NANOGPT_SHAKESPEARE="$_shared/tinyshakespeare/input.txt"
fi
if [ -z "${TIKTOKEN_CACHE_DIR:-}" ] && [ -d "$_shared/tiktoken_cache" ]; then
  export TIKTOKEN_CACHE_DIR="$_shared/tiktoken_cache"
fi
unset _shared
