# The CPU speedrun: nanoGPT's laptop target, val loss 1.88, in a fraction of train_shakespeare_char_cpu's time.
# What the speedrun chapter (nbs/11_speedrun.ipynb) found on a 2-core machine: every modern switch, Muon for the
# blocks' matrices, a batch of 32 rather than 12 (Muon's step costs the same whatever the batch), higher learning
# rates, 3 layers instead of 4, and a schedule of 260 steps that ends where it should: at the lowest learning rate.

out_dir = 'out-speedrun-shakespeare-char-cpu'
eval_interval = 65
eval_iters = 8  # 8 x 32 x 64 tokens per split: about what the CPU recipe evaluates on (20 x 12 x 64)
log_interval = 20
always_save_checkpoint = False

dataset = 'shakespeare_char'
gradient_accumulation_steps = 1
batch_size = 32
block_size = 64

n_layer = 3
n_head = 4
n_embd = 128
dropout = 0.0
pos_emb = 'rope'
qk_norm = True
mlp_act = 'relu2'
norm = 'rmsnorm'
tie_head = False
zero_init = True

optimizer = 'muon'
muon_lr = 0.03
learning_rate = 3e-3  # AdamW's, for the embedding, the head and nothing else
max_iters = 260
lr_decay_iters = 260
min_lr = 1e-4
beta2 = 0.99
warmup_iters = 20

device = 'cpu'
compile = False  # compiling takes longer than this whole run
