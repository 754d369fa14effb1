# Reproduce GPT-2 small (124M) the way build-nanogpt (Karpathy, 2024) does: 10B tokens of FineWeb-Edu
# (its sample-10BT), one epoch, HellaSwag measured as it trains. On one node of 8 GPUs:
#   torchrun --standalone --nproc_per_node=8 -m nanogpt.train train_gpt2_fineweb
# (on fewer GPUs the same batch takes more micro-steps each: 8 processes x 1, or 1 process x 8).
# Prepare the data first: nanogpt-prepare fineweb_edu
#
# build-nanogpt's recipe (its train_gpt2.py): total_batch_size = 2**19 tokens, micro-batch 64 x 1024,
# max_lr 6e-4, min_lr 10% of it, 715 warmup steps, 19,073 steps ("~1 epoch, if data is 10B tokens and batch
# size 0.5M tokens"), weight decay 0.1, gradient clipping at 1.0, val loss and HellaSwag every 250 steps.
# Its published yardstick: GPT-2 124M scores HellaSwag acc_norm 0.2955 (completion style, the figure its
# hellaswag.py prints for OpenAI's checkpoint, and the eval chapter's scoring); build-nanogpt reports that its
# 124M model trained on these 10B tokens passes it. No per-evaluation val-loss curve of that run is shipped
# here (no `reference`): the runs differ in data order and kernels, so compare your HellaSwag with 0.2955.

out_dir = 'out-gpt2-fineweb'
wandb_log = False  # set True (pip install wandb) to follow the run online
wandb_project = 'fineweb'
wandb_run_name = 'gpt2-124M-fineweb-edu-10B'

dataset = 'fineweb_edu'
loader = 'shards'  # each rank reads its own windows of the shards, in order: one pass, no window read twice

# GPT-2 124M: 12 layers, 12 heads, 768 wide, 1024 tokens of context; build-nanogpt keeps the biases
n_layer = 12
n_head = 12
n_embd = 768
block_size = 1024
bias = True
dropout = 0.0

# 64 sequences x 1024 tokens x 8 micro-batches (1 per GPU on 8 GPUs) = 524,288 = 2**19 tokens per step
batch_size = 64
gradient_accumulation_steps = 8

# 19,073 steps x 524,288 tokens = 9,999,745,024 tokens: one pass over the 10B-token sample
max_iters = 19073
lr_decay_iters = 19073
warmup_iters = 715
learning_rate = 6e-4
min_lr = 6e-5  # 10% of learning_rate
weight_decay = 0.1
beta1 = 0.9
beta2 = 0.95
grad_clip = 1.0

eval_interval = 250
eval_iters = 20  # build-nanogpt's val_loss_steps: 20 micro-batches of 64 x 1024
eval_hellaswag_interval = 250  # all 10,042 items, shared among the processes
log_interval = 10
always_save_checkpoint = True
