# GPT-2 small (124M) on OpenWebText with the modern switches and Muon, for one node of 8 GPUs:
#   torchrun --standalone --nproc_per_node=8 -m nanogpt.train speedrun_gpt2
# train_gpt2's model, batch and data; rotary positions, QK-norm, ReLU², RMSNorm, an untied zero-initialised head and
# Muon for the blocks' matrices, on a schedule of 10,000 steps (4.9B tokens) instead of 600,000 (300B tokens).
# The speedrun community reports such changes halving the tokens to a given loss or better (modded-nanogpt, on
# FineWeb). Not yet run to the end by this project: the figures of a run are welcome in the speedrun chapter
# (nbs/11_speedrun.ipynb).

wandb_log = False
wandb_project = 'owt'
wandb_run_name = 'gpt2-124M-modern'

batch_size = 16
block_size = 1024
gradient_accumulation_steps = 4 * 8  # 16 x 1024 x 32 = 524,288 tokens per iteration

pos_emb = 'rope'
qk_norm = True
mlp_act = 'relu2'
norm = 'rmsnorm'
tie_head = False
zero_init = True

optimizer = 'muon'
muon_lr = 0.02
learning_rate = 3e-3  # AdamW's, for the embedding and the head
weight_decay = 0.0
max_iters = 10000
lr_decay_iters = 10000
warmup_iters = 200
min_lr = 3e-5

eval_interval = 500
eval_iters = 200
log_interval = 10
