# Reproduce GPT-2 small (124M) on OpenWebText: nanoGPT's recipe for one node of 8 A100 40GB GPUs,
#   torchrun --standalone --nproc_per_node=8 -m nanogpt.train train_gpt2
# about 4 days to a val loss of ~2.85. Prepare the data first: nanogpt-prepare openwebtext

wandb_log = False  # set True (pip install wandb) to follow the run online
wandb_project = 'owt'
wandb_run_name = 'gpt2-124M'

# 12 sequences x 1024 tokens x 40 accumulation steps (5 per GPU on 8 GPUs) = 491,520 tokens per iteration
batch_size = 12
block_size = 1024
gradient_accumulation_steps = 5 * 8

# 600,000 iterations x 491,520 tokens = about 300B tokens
max_iters = 600000
lr_decay_iters = 600000

eval_interval = 1000
eval_iters = 200
log_interval = 10

weight_decay = 1e-1
