# The one-GPU speedrun of the character-level Shakespeare model: train_shakespeare_char's 6 x 384 model and data,
# with every modern switch and Muon, in a fifth of its steps. Target: nanoGPT's 1.4697 (about 3 minutes on an
# A100; train_shakespeare_char reaches 1.469 at iteration 1,750, 59 s, on an H200). See the speedrun chapter
# (nbs/11_speedrun.ipynb), which reads the H200 figures of this config.

out_dir = 'out-speedrun-shakespeare-char'
eval_interval = 100
eval_iters = 200
log_interval = 50
always_save_checkpoint = False

dataset = 'shakespeare_char'
gradient_accumulation_steps = 1
batch_size = 64
block_size = 256

n_layer = 6
n_head = 6
n_embd = 384
dropout = 0.2  # this data set is small: the model still needs it
pos_emb = 'rope'
qk_norm = True
mlp_act = 'relu2'
norm = 'rmsnorm'
tie_head = False
zero_init = True

optimizer = 'muon'
muon_lr = 0.03
learning_rate = 2e-3  # AdamW's, for the embedding and the head
max_iters = 1000
lr_decay_iters = 1000
min_lr = 1e-4
beta2 = 0.99
warmup_iters = 50
