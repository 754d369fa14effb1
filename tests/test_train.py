"""nanogpt-train as practitioners run it: real processes, torchrun with 2 CPU ranks, signals, resume."""
import contextlib
import gc
import io
import json
import os
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from conftest import BIN, losses, one_line_error, run_cli, tiny
from nanogpt.corpus import prepare
from nanogpt.checkpoint import atomic_save, load_checkpoint
from nanogpt.core import NanoGPTError


def weights(out, name="ckpt.pt"):
    return load_checkpoint(Path(out) / name)["model"]


def test_exact_resume_with_dropout(tmp_path, data_dir):
    run_cli("nanogpt-train", *tiny(tmp_path / "full", data_dir, max_iters=16, dropout=0.1, eval_interval=8,
                                   always_save_checkpoint=True), cwd=tmp_path, check=0)
    run_cli("nanogpt-train", *tiny(tmp_path / "split", data_dir, max_iters=8, dropout=0.1, eval_interval=8,
                                   always_save_checkpoint=True), cwd=tmp_path, check=0)
    proc = run_cli("nanogpt-train", *tiny(tmp_path / "split", data_dir, max_iters=16, dropout=0.1, eval_interval=8,
                                          always_save_checkpoint=True, init_from="resume"), cwd=tmp_path, check=0)
    assert "from resume at iteration 8" in proc.stdout
    assert "resuming with settings changed from the run's: max_iters 8 -> 16" in proc.stdout  # said, never silent
    full, split = losses(tmp_path / "full"), losses(tmp_path / "split")
    assert sorted(split) == list(range(16))
    assert split == full  # bit-identical at every iteration, before and after the restart
    a, b = weights(tmp_path / "full"), weights(tmp_path / "split")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_ddp_two_ranks_equals_accumulation(tmp_path, data_dir):
    # eval_iters=1 with 2 ranks: one rank has no eval batch and must not hang the other
    common = dict(max_iters=1, eval_interval=1, always_save_checkpoint=True, gradient_accumulation_steps=2, device="cpu",
                  eval_iters=1)
    run_cli("nanogpt-train", *tiny(tmp_path / "single", data_dir, **common), cwd=tmp_path, check=0)
    proc = run_cli("torchrun", "--standalone", "--nproc_per_node=2", "-m", "nanogpt.train",
                   *tiny(tmp_path / "ddp", data_dir, backend="gloo", **common), cwd=tmp_path, check=0)
    assert proc.stdout.count("iter 0: loss") == 1  # only rank 0 logs
    assert "2 process(es) x 1 micro-steps" in proc.stdout
    l1, l2 = losses(tmp_path / "single")[0], losses(tmp_path / "ddp")[0]
    assert abs(l1 - l2) <= 1e-5, (l1, l2)
    w1, w2 = weights(tmp_path / "single"), weights(tmp_path / "ddp")
    assert max((w1[k] - w2[k]).abs().max().item() for k in w1) <= 1e-5


def test_compiled_ddp_equals_compiled_single_process(tmp_path, data_dir):
    # torch.compile(DDP(model)), with no_sync on the first micro-steps: the same losses as one process accumulating
    common = dict(max_iters=2, gradient_accumulation_steps=4, device="cpu", compile=True)
    run_cli("nanogpt-train", *tiny(tmp_path / "single", data_dir, **common), cwd=tmp_path, check=0)
    run_cli("torchrun", "--standalone", "--nproc_per_node=2", "-m", "nanogpt.train",
            *tiny(tmp_path / "ddp", data_dir, backend="gloo", **common), cwd=tmp_path, check=0)
    single, ddp = losses(tmp_path / "single"), losses(tmp_path / "ddp")
    assert sorted(ddp) == [0, 1] and all(abs(single[i] - ddp[i]) <= 1e-5 for i in single), (single, ddp)


def test_ddp_accumulation_must_divide(tmp_path, data_dir):
    proc = run_cli("torchrun", "--standalone", "--nproc_per_node=2", "-m", "nanogpt.train",
                   *tiny(tmp_path / "o", data_dir, backend="gloo", device="cpu", gradient_accumulation_steps=3, max_iters=1),
                   cwd=tmp_path)
    assert proc.returncode != 0 and "gradient_accumulation_steps=3 must be divisible by the 2 processes" in proc.stderr


def test_ctrl_c_saves_and_resumes_exactly(tmp_path, data_dir):
    out = tmp_path / "run"
    args = tiny(out, data_dir, dropout=0.1, max_iters=100000)
    p = subprocess.Popen([str(BIN / "nanogpt-train"), *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not ((out / "log.jsonl").exists() and len(losses(out)) >= 10):
        time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=60)
    assert p.returncode == 128 + signal.SIGINT, stderr  # saved and resumable, but not finished: not the status of a done run
    assert "interrupted at iteration" in stdout and "continue with --init_from=resume" in stdout and "Traceback" not in stderr
    n = max(losses(out)) + 1  # the iteration it stopped before
    state = load_checkpoint(out / "state.pt")
    assert state["iter_num"] == n and "optimizer" in state and "model" in state  # the resume point, self-sufficient
    assert not (out / "ckpt.pt").exists()  # no evaluation has saved a model yet: nothing to sample from
    one_line_error(run_cli("nanogpt-sample", f"--out_dir={out}", cwd=tmp_path), "interrupted before its first evaluation",
                   "--init_from=resume")
    one_line_error(run_cli("nanogpt-train", *tiny(out, data_dir, dropout=0.1, max_iters=n + 5), cwd=tmp_path),
                   "already holds a run")  # starting afresh in its place would destroy it
    run_cli("nanogpt-train", *tiny(out, data_dir, dropout=0.1, max_iters=n + 5, init_from="resume"), cwd=tmp_path, check=0)
    run_cli("nanogpt-train", *tiny(tmp_path / "ref", data_dir, dropout=0.1, max_iters=n + 5), cwd=tmp_path, check=0)
    ref, got = losses(tmp_path / "ref"), losses(out)
    assert [got[i] for i in range(n, n + 5)] == [ref[i] for i in range(n, n + 5)]


def test_ctrl_c_under_torchrun_saves_at_once(tmp_path, data_dir):
    # log_interval is huge: the ranks must agree to stop at the next iteration, not at a log step that never comes
    out = tmp_path / "run"
    args = tiny(out, data_dir, max_iters=100000, log_interval=100000, backend="gloo", device="cpu", gradient_accumulation_steps=2)
    p = subprocess.Popen([str(BIN / "torchrun"), "--standalone", "--nproc_per_node=2", "-m", "nanogpt.train", *args], cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not ((out / "log.jsonl").exists() and losses(out)):  # iteration 0 is logged
        time.sleep(0.2)
    time.sleep(1)
    os.killpg(p.pid, signal.SIGINT)  # Ctrl-C in a terminal: torchrun and both workers get it; torchrun then passes it on
    stdout, stderr = p.communicate(timeout=60)
    assert "interrupted at iteration" in stdout, stdout + stderr
    assert "KeyboardInterrupt" not in stderr  # torchrun's repeat of the signal did not break the save
    state = load_checkpoint(out / "state.pt")
    assert state["iter_num"] > 0 and state["world_size"] == 2 and len(state["rng"]) == 2


def test_resume_state_is_dropped_and_ddp_broadcasts_no_buffers(tmp_path, data_dir, monkeypatch):
    from nanogpt import train as T
    from nanogpt.parallel import Processes
    from nanogpt.config import TrainConfig, parse_config
    out = tmp_path / "run"
    run_cli("nanogpt-train", *tiny(out, data_dir, max_iters=2, eval_interval=2), cwd=tmp_path, check=0)
    refs, load = [], T.load_checkpoint

    def spy(path, *a, **kw):
        state = load(path, *a, **kw)
        refs.append(weakref.ref(next(iter(state["model"].values()))))
        return state
    monkeypatch.setattr(T, "load_checkpoint", spy)
    cfg = parse_config(TrainConfig, tiny(out, data_dir, max_iters=4, init_from="resume"))
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        data = data_dir / "shakespeare_char"
        run, progress = T.setup(cfg, Processes(ddp=True), "cpu", data, T.load_meta(data))
        gc.collect()
        assert progress.iter_num == 2 and len(refs) == 1
        assert refs[0]() is None  # the loaded weights were copied into the model and let go: no second copy stays
        assert isinstance(run.step_model, DDP) and not list(run.model.buffers())
        assert not run.step_model.will_sync_module_buffers()  # nothing is broadcast before each forward pass
    finally:
        dist.destroy_process_group()


def test_interrupted_checkpoint_write_keeps_previous(tmp_path, monkeypatch):
    path = tmp_path / "weights.pt"
    atomic_save({"w": torch.ones(3)}, path)

    def dying_save(obj, f, *a, **k):
        Path(f).write_bytes(b"half a checkpoint")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(NanoGPTError, match="could not write .*No space left on device.*the previous weights.pt"):
        atomic_save({"w": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.ones(3))  # the previous file, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.pt"]  # no temp file left behind


def test_nan_stops_without_touching_the_checkpoint(tmp_path, data_dir):
    out = tmp_path / "run"
    run_cli("nanogpt-train", *tiny(out, data_dir, max_iters=4, eval_interval=4, always_save_checkpoint=True), cwd=tmp_path, check=0)
    before = {p: (out / p).read_bytes() for p in ("ckpt.pt", "state.pt")}
    proc = run_cli("nanogpt-train", *tiny(out, data_dir, max_iters=40, eval_interval=2, always_save_checkpoint=True,
                                          init_from="resume", learning_rate=1e30, grad_clip=0.0), cwd=tmp_path)
    one_line_error(proc, "diverged", "nothing was saved")
    assert {p: (out / p).read_bytes() for p in before} == before


def test_finetune_from_local_hf_gpt2_and_eval_only(tmp_path, shakespeare_input):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    hf_dir = tmp_path / "tiny-gpt2"
    transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=2, n_head=2, n_embd=32, n_positions=128)).save_pretrained(hf_dir)
    data = tmp_path / "data"
    prepare("shakespeare", data, input=shakespeare_input)
    args = dict(dataset="shakespeare", init_from=hf_dir, block_size=64, max_iters=4, eval_interval=2,
                always_save_checkpoint=True, learning_rate=1e-3, decay_lr=False)
    proc = run_cli("nanogpt-train", *tiny(tmp_path / "ft", data, **args), cwd=tmp_path, check=0)
    assert f"from {hf_dir} at iteration 0" in proc.stdout
    ck = load_checkpoint(tmp_path / "ft" / "ckpt.pt")
    assert ck["model_args"]["block_size"] == 64 and ck["model_args"]["n_embd"] == 32 and ck["meta"]["tokenizer"] == "gpt2"
    assert ck["model"]["transformer.wpe.weight"].shape == (64, 32)  # cropped from 128
    # resume + eval_only evaluates the saved run (and writes nothing new)
    before = (tmp_path / "ft" / "state.pt").read_bytes()
    proc = run_cli("nanogpt-train", *tiny(tmp_path / "ft", data, dataset="shakespeare", init_from="resume", eval_only=True),
                   cwd=tmp_path, check=0)
    assert "eval 4: train loss" in proc.stdout and (tmp_path / "ft" / "state.pt").read_bytes() == before
    assert "cropping the model's context from 64 to block_size=32" in proc.stdout  # a smaller block_size is never ignored
    # eval_only: evaluates the pretrained model, writes nothing; python -m works as well as the console script
    proc = subprocess.run([sys.executable, "-m", "nanogpt.train", *tiny(tmp_path / "ev", data, dataset="shakespeare",
                          init_from=hf_dir, eval_only=True)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "eval 0: train loss" in proc.stdout and not (tmp_path / "ev").exists()
    # a char-level dataset cannot finetune a BPE model
    one_line_error(run_cli("nanogpt-train", *tiny(tmp_path / "x", data, dataset="shakespeare_char", init_from=hf_dir),
                           cwd=tmp_path, env={"NANOGPT_SHAKESPEARE": str(shakespeare_input)}), "BPE")


def test_wandb_offline(tmp_path, data_dir):
    pytest.importorskip("wandb")
    out = tmp_path / "run"
    run_cli("nanogpt-train", *tiny(out, data_dir, max_iters=3, eval_interval=3, wandb_log=True, wandb_run_name="t"),
            cwd=tmp_path, env={"WANDB_MODE": "offline", "WANDB_SILENT": "true"}, check=0)
    runs = list((out / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))


def test_compile_keeps_state_dict_keys_clean(tmp_path, data_dir):
    out = tmp_path / "run"
    run_cli("nanogpt-train", *tiny(out, data_dir, max_iters=2, eval_interval=2, compile=True, always_save_checkpoint=True),
            cwd=tmp_path, check=0, timeout=900)
    keys = list(weights(out))
    assert keys and not any("_orig_mod" in k or k.startswith("module.") for k in keys)


def test_config_errors(tmp_path, data_dir):
    run = lambda *a: run_cli("nanogpt-train", *a, cwd=tmp_path)
    one_line_error(run("--learning_rat=1e-4"), "unknown config key 'learning_rat'", "learning_rate")
    one_line_error(run("--batch_size=twelve"), "batch_size='twelve'", "expected int")
    one_line_error(run("--max_iters=2.5"), "max_iters=2.5", "expected int")
    one_line_error(run("no_such_config"), "'no_such_config' not found", "train_shakespeare_char_cpu", "finetune_shakespeare")
    bad = tmp_path / "bad.py"
    bad.write_text("batchsize = 3\n")
    one_line_error(run(str(bad)), "bad.py", "'batchsize'", "batch_size")
    one_line_error(run("--batch_size"), "--key=value")
    one_line_error(run("--dtype=float16", "--device=cpu"), "float16 needs a GPU")
    one_line_error(run("--device=cuda"), "CUDA is not available")
    one_line_error(run(*tiny(tmp_path / "o", data_dir, seed=-1)), "seed=-1: must be a seed, 0 to 2**63 - 1")
    one_line_error(run(*tiny(tmp_path / "o", data_dir, dataset="owt_nope")), "nanogpt-prepare owt_nope")
    help_text = run("--help")
    assert help_text.returncode == 0 and "--gradient_accumulation_steps=40" in help_text.stdout


def test_missing_shakespeare_is_prepared_and_out_dir_is_not_clobbered(tmp_path, shakespeare_input):
    data = tmp_path / "fresh-data"
    env = {"NANOGPT_SHAKESPEARE": str(shakespeare_input)}
    proc = run_cli("nanogpt-train", *tiny(tmp_path / "run", data, max_iters=2, eval_interval=2, always_save_checkpoint=True),
                   cwd=tmp_path, env=env, check=0)
    assert "preparing it now" in proc.stdout and (data / "shakespeare_char" / "meta.json").exists()
    proc = run_cli("nanogpt-train", *tiny(tmp_path / "run", data, max_iters=2), cwd=tmp_path, env=env)
    one_line_error(proc, "already holds a run", "--init_from=resume")
    one_line_error(run_cli("nanogpt-train", *tiny(tmp_path / "empty", data, init_from="resume"), cwd=tmp_path, env=env),
                   "no checkpoint")


def test_resume_with_another_block_size_keeps_the_run(tmp_path, data_dir):
    "A smaller block_size would crop the run's weights and save them over the only copy: an error; eval_only may crop."
    out = tmp_path / "run"
    run_cli("nanogpt-train", *tiny(out, data_dir, max_iters=4, eval_interval=4, always_save_checkpoint=True), cwd=tmp_path, check=0)
    before = {p: (out / p).read_bytes() for p in ("ckpt.pt", "state.pt", "log.jsonl")}
    for block_size in (16, 64):
        one_line_error(run_cli("nanogpt-train", *tiny(out, data_dir, max_iters=6, init_from="resume", block_size=block_size),
                               cwd=tmp_path), "block_size=32", "--block_size=32", "another --out_dir")
    proc = run_cli("nanogpt-train", *tiny(out, data_dir, init_from="resume", block_size=16, eval_only=True), cwd=tmp_path, check=0)
    assert "cropping the model's context from 32 to block_size=16" in proc.stdout and "eval 4: train loss" in proc.stdout
    assert {p: (out / p).read_bytes() for p in before} == before


def test_state_pt_whose_groups_name_a_setting_still_resumes(tmp_path, data_dir):
    "Before each group carried its base rate (initial_lr), state.pt named a TrainConfig field (lr_key): it resumes exactly."
    from nanogpt.config import TrainConfig, parse_config
    from nanogpt.train import train
    run = lambda out, **kw: train(parse_config(TrainConfig, tiny(out, data_dir, optimizer="muon", eval_interval=4, **kw)))
    with contextlib.redirect_stdout(io.StringIO()):
        full = run(tmp_path / "full", max_iters=8)
        run(tmp_path / "old", max_iters=4)
        state = load_checkpoint(tmp_path / "old" / "state.pt")
        for group, key in zip(state["optimizer"]["param_groups"], ("muon_lr", "learning_rate", "learning_rate")):
            del group["initial_lr"]
            group["lr_key"] = key  # as nanogpt wrote it before
        atomic_save(state, tmp_path / "old" / "state.pt")
        resumed = run(tmp_path / "old", max_iters=8, init_from="resume")
    assert resumed["loss"] == full["loss"][4:]


def test_batch_warmup_resumes_exactly_and_counts_tokens(tmp_path, data_dir):
    "The micro-step count is a function of the iteration: a resume mid-ramp repeats the same steps; the log counts real tokens."
    from nanogpt.config import TrainConfig, parse_config
    from nanogpt.optim import micro_steps_at, tokens_seen
    common = dict(dropout=0.1, eval_interval=5, always_save_checkpoint=True, gradient_accumulation_steps=4, batch_warmup_iters=6)
    run_cli("nanogpt-train", *tiny(tmp_path / "full", data_dir, max_iters=10, **common), cwd=tmp_path, check=0)
    run_cli("nanogpt-train", *tiny(tmp_path / "split", data_dir, max_iters=5, **common), cwd=tmp_path, check=0)
    proc = run_cli("nanogpt-train", *tiny(tmp_path / "split", data_dir, max_iters=10, init_from="resume", **common),
                   cwd=tmp_path, check=0)
    assert "from resume at iteration 5" in proc.stdout and "ramped from 128 over the first 6 (batch warmup)" in proc.stdout
    full, split = losses(tmp_path / "full"), losses(tmp_path / "split")
    assert sorted(split) == list(range(10)) and split == full  # bit-identical, before and after the restart mid-ramp
    a, b = weights(tmp_path / "full"), weights(tmp_path / "split")
    assert all(torch.equal(a[k], b[k]) for k in a)
    cfg = parse_config(TrainConfig, tiny(tmp_path / "full", data_dir, max_iters=10, **common))
    counts = [micro_steps_at(i, cfg) for i in range(10)]
    assert counts == [1, 1, 2, 2, 3, 3, 4, 4, 4, 4]  # 1 + 3 * it // 6 during the ramp, then all 4
    rows = [r for r in map(json.loads, open(tmp_path / "full" / "log.jsonl")) if "loss" in r]
    assert [r["tokens"] for r in rows] == [sum(counts[:i + 1]) * 4 * 32 for i in range(10)]  # batch 4 x block 32
    assert rows[-1]["tokens"] == tokens_seen(cfg, 10) == 28 * 128
    assert "for 5 iterations (2,432 tokens)" in proc.stdout  # the resumed session's own: iterations 5..9, 19 x 128


def test_fineweb_recipe_is_build_nanogpts(tmp_path):
    "train_gpt2_fineweb: 2**19 tokens a step, 19,073 steps (about 10B tokens), build-nanogpt's schedule; it passes the checks."
    from nanogpt.config import TrainConfig, check_train_config, parse_config
    from nanogpt.optim import tokens_seen
    cfg = parse_config(TrainConfig, ["train_gpt2_fineweb"])
    check_train_config(cfg)
    assert tokens_seen(cfg, 1) == cfg.batch_size * cfg.block_size * cfg.gradient_accumulation_steps == 2**19 == 524_288
    assert tokens_seen(cfg, cfg.max_iters) == 9_999_745_024  # one epoch of the 10B-token sample
    assert (cfg.learning_rate, cfg.min_lr, cfg.warmup_iters, cfg.lr_decay_iters, cfg.weight_decay) == (6e-4, 6e-5, 715, 19073, 0.1)
    assert (cfg.eval_interval, cfg.eval_hellaswag_interval, cfg.dataset) == (250, 250, "fineweb_edu")
    proc = run_cli("nanogpt-train", "train_gpt2_fineweb", "--help", cwd=tmp_path, check=0)
    assert "--batch_size=64" in proc.stdout and "--gradient_accumulation_steps=8" in proc.stdout


def tiny_shards(root) -> Path:
    "A sharded dataset of random GPT-2 token ids in 3,000-token shards (the first is val), written by the shards chapter's writer."
    import numpy as np
    from nanogpt.shards import ShardWriter
    writer = ShardWriter(root / "shards_tiny", 3000, {"tokenizer": "gpt2", "vocab_size": 50257, "eot": 50256, "dataset": "shards_tiny"})
    rng = np.random.default_rng(0)
    for _ in range(40):
        writer.add(np.array([50256, *rng.integers(0, 50256, int(rng.integers(100, 600)))], dtype=np.uint16))
    writer.close()
    return root


def test_shard_loader_resumes_exactly_and_two_ranks_read_what_one_does(tmp_path):
    """loader=shards: windows in order, a pure function of the step (with a batch warmup too), so a resume is bit-exact; two
    ranks read disjoint windows whose union is what one process accumulating reads."""
    data = tiny_shards(tmp_path / "data")
    common = dict(dataset="shards_tiny", loader="shards", eval_interval=4, always_save_checkpoint=True, dropout=0.1,
                  gradient_accumulation_steps=2, batch_warmup_iters=3)
    run_cli("nanogpt-train", *tiny(tmp_path / "full", data, max_iters=8, **common), cwd=tmp_path, check=0)
    run_cli("nanogpt-train", *tiny(tmp_path / "split", data, max_iters=4, **common), cwd=tmp_path, check=0)
    run_cli("nanogpt-train", *tiny(tmp_path / "split", data, max_iters=8, init_from="resume", **common), cwd=tmp_path, check=0)
    full, split = losses(tmp_path / "full"), losses(tmp_path / "split")
    assert sorted(split) == list(range(8)) and split == full
    a, b = weights(tmp_path / "full"), weights(tmp_path / "split")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert load_checkpoint(tmp_path / "full" / "ckpt.pt")["meta"]["tokenizer"] == "gpt2"
    # two ranks (one micro-step each) against one process accumulating two: the same windows, the same step
    flat = dict(common, dropout=0.0, batch_warmup_iters=0, max_iters=2, eval_interval=2, device="cpu")
    run_cli("nanogpt-train", *tiny(tmp_path / "one", data, **flat), cwd=tmp_path, check=0)
    run_cli("torchrun", "--standalone", "--nproc_per_node=2", "-m", "nanogpt.train",
            *tiny(tmp_path / "two", data, backend="gloo", **flat), cwd=tmp_path, check=0)
    one, two = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert sorted(two) == [0, 1] and all(abs(one[i] - two[i]) <= 1e-5 for i in one), (one, two)
    w1, w2 = weights(tmp_path / "one"), weights(tmp_path / "two")
    assert max((w1[k] - w2[k]).abs().max().item() for k in w1) <= 1e-5


def test_shard_loader_on_the_wrong_kind_of_dataset(tmp_path, data_dir):
    data = tiny_shards(tmp_path / "data")
    one_line_error(run_cli("nanogpt-train", *tiny(tmp_path / "o", data, dataset="shards_tiny"), cwd=tmp_path),
                   "is sharded", "--loader=shards")
    one_line_error(run_cli("nanogpt-train", *tiny(tmp_path / "o", data_dir, loader="shards"), cwd=tmp_path),
                   "one train.bin, not shards", "--loader=windows")
    one_line_error(run_cli("nanogpt-train", *tiny(tmp_path / "o", data_dir, loader="stream"), cwd=tmp_path),
                   "loader='stream'", "windows", "shards")
    assert not (tmp_path / "o").exists()


def test_document_loader_starts_every_window_at_a_document(tmp_path):
    "loader=documents: train_batch's windows each begin with <|endoftext|>, no token read twice, ranks and steps apart."
    from types import SimpleNamespace
    from nanogpt.config import TrainConfig, check_train_config
    from nanogpt.step import train_batch
    data = tiny_shards(tmp_path / "data") / "shards_tiny"
    cfg = TrainConfig(dataset="shards_tiny", loader="documents", batch_size=3, gradient_accumulation_steps=4,
                      block_size=64, device="cpu", dtype="float32", compile=False)
    check_train_config(cfg)
    seen = []
    for world in (1, 2):
        run = SimpleNamespace(cfg=cfg, data=data, device="cpu", procs=SimpleNamespace(world=world),
                              model=SimpleNamespace(config=SimpleNamespace(block_size=64, vocab_size=50257)))
        xs = [train_batch(run, it, i)[0] for it in range(2) for i in range(4)]  # every rank's micro-batches, 2 steps
        x = torch.cat(xs)
        assert (x[:, 0] == 50256).all()  # each window starts a document
        seen.append(x)
    assert torch.equal(seen[0], seen[1])  # 2 ranks x 2 micro-steps read the windows 1 rank x 4 micro-steps does
    assert len({tuple(r.tolist()) for r in seen[0]}) == len(seen[0]) == 24  # no window twice (an epoch holds more)
