# A character-level Shakespeare model good enough to sample from (val loss under 1.7), trained on a CPU in
# a minute or two: the CPU speedrun (every modern switch, Muon for the blocks' matrices) run for 600 steps
# instead of 260. The sample chapter trains it. Longer goes lower still (800 steps: val 1.61, with the gap to
# the training loss, 1.44, widening) but no longer fits the chapter's few minutes.
# Measured on the project's 2-core test machine (Intel Xeon, bf16, one thread, while other jobs kept its load
# average near 7; 2026-12-03): val loss 1.645 in 79 s (seed 1337), 1.650 in 93 s (seed 1); 500 steps gave 1.678
# and 1.692, too close to 1.7.

from nanogpt.configs.speedrun_shakespeare_char_cpu import *  # noqa: F403  every setting of the CPU speedrun, then:

out_dir = 'out-sample-shakespeare-char-cpu'
max_iters = 600  # the speedrun's 260, and more
lr_decay_iters = 600
warmup_iters = 40
eval_interval = 150
eval_iters = 20  # 20 x 32 x 64 tokens per split: a val loss to two decimals
log_interval = 50
