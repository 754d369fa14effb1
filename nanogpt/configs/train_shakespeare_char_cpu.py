# nanoGPT's laptop recipe: the character-level Shakespeare model shrunk to run on a CPU in minutes.
# 4 layers, 4 heads, 128 wide, 64 characters of context, no dropout, 2,000 iterations.
# nanoGPT reports a val loss of about 1.88 with these settings.

out_dir = 'out-shakespeare-char-cpu'
eval_interval = 250
eval_iters = 20
log_interval = 10
always_save_checkpoint = False

dataset = 'shakespeare_char'
gradient_accumulation_steps = 1
batch_size = 12
block_size = 64

n_layer = 4
n_head = 4
n_embd = 128
dropout = 0.0

learning_rate = 1e-3
max_iters = 2000
lr_decay_iters = 2000
min_lr = 1e-4
beta2 = 0.99
warmup_iters = 100

device = 'cpu'
compile = False  # compiling costs more time than it saves on a run this short

# val loss at each evaluation of this recipe, measured on the project's 2-core test machine (bf16, 2026-11-27):
# each evaluation of a run with these settings says how the run compares
reference = {0: 4.162, 250: 2.448, 500: 2.295, 750: 2.165, 1000: 2.064, 1250: 1.996, 1500: 1.95, 1750: 1.918, 2000: 1.898}
