# Finetune GPT-2 XL (1.5B) on tiny Shakespeare in GPT-2 tokens: a few minutes on one GPU.
# Prepare the data first: nanogpt-prepare shakespeare

out_dir = 'out-shakespeare'
eval_interval = 5
eval_iters = 40
wandb_log = False
wandb_project = 'shakespeare'
wandb_run_name = 'ft-gpt2-xl'

dataset = 'shakespeare'
init_from = 'gpt2-xl'  # the largest GPT-2

always_save_checkpoint = False  # finetuning overfits quickly: keep only the best val loss

# 1 sequence x 32 accumulation steps x 1024 tokens = 32,768 tokens per iteration;
# tiny Shakespeare has 301,966 training tokens, so one epoch is about 9.2 iterations
batch_size = 1
gradient_accumulation_steps = 32
max_iters = 20

learning_rate = 3e-5  # finetune with a small constant learning rate
decay_lr = False
