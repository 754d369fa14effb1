# A small character-level Shakespeare model for one GPU: 6 layers, 6 heads, 384 wide, 256 characters of
# context, about 10.7M parameters. nanoGPT reports a best val loss of about 1.47 after ~3 minutes on an A100.
# On a CPU use train_shakespeare_char_cpu instead.

out_dir = 'out-shakespeare-char'
eval_interval = 250  # the model overfits this small data set: evaluate often
eval_iters = 200
log_interval = 10
always_save_checkpoint = False  # keep the checkpoint with the best val loss

wandb_log = False
wandb_project = 'shakespeare-char'
wandb_run_name = 'mini-gpt'

dataset = 'shakespeare_char'
gradient_accumulation_steps = 1
batch_size = 64
block_size = 256

n_layer = 6
n_head = 6
n_embd = 384
dropout = 0.2

learning_rate = 1e-3  # a small model tolerates a larger learning rate
max_iters = 5000
lr_decay_iters = 5000  # usually equal to max_iters
min_lr = 1e-4  # learning_rate / 10
beta2 = 0.99  # a little above 0.95 because there are few tokens per iteration
warmup_iters = 100
