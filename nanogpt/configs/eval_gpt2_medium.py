# Evaluate the published GPT-2 355M on OpenWebText (no training): nanogpt-train eval_gpt2_medium
# Prepare the data first: nanogpt-prepare openwebtext
batch_size = 8
eval_iters = 500  # more batches for a steadier estimate
eval_only = True
wandb_log = False
init_from = 'gpt2-medium'
