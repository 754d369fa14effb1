"""The commands' everyday behaviour: --help that teaches, a run's output in a log file, loss.png, honest MFU."""
import contextlib
import io
import json

import matplotlib.image

from conftest import run_cli


TINY = ["train_shakespeare_char_cpu", "--n_layer=2", "--n_head=2", "--n_embd=32", "--block_size=32", "--batch_size=4",
        "--eval_iters=2", "--compile=False", "--device=cpu", "--dtype=float32", "--warmup_iters=2", "--lr_decay_iters=30"]


def test_help_names_the_command_and_shows_values_and_meanings(tmp_path):
    train = run_cli("nanogpt-train", "train_shakespeare_char_cpu", "--max_iters=77", "--help", cwd=tmp_path, check=0).stdout
    assert train.startswith("usage: nanogpt-train ")
    line = next(l for l in train.splitlines() if l.strip().startswith("--n_layer="))
    assert line.split()[0] == "--n_layer=4" and "transformer blocks" in line  # the recipe's value, and the key's meaning
    assert "--max_iters=77" in train and "train_shakespeare_char_cpu" in train.split("config files shipped")[1]
    sample = run_cli("nanogpt-sample", "--help", cwd=tmp_path, check=0).stdout
    assert sample.startswith("usage: nanogpt-sample ") and "tokens to generate in each" in sample
    assert "config files shipped" not in sample  # the training recipes do not apply to sampling
    bench = run_cli("nanogpt-bench", "--help", cwd=tmp_path, check=0).stdout
    assert bench.startswith("usage: nanogpt-bench ") and "+compile" in bench and "--optimizer=" in bench


def test_a_run_logged_to_a_file_has_estimates_a_summary_and_a_plot(tmp_path, data_dir):
    out = tmp_path / "run"
    proc = run_cli("nanogpt-train", *TINY, f"--data_dir={data_dir}", f"--out_dir={out}", "--max_iters=30",
                   "--eval_interval=10", "--log_interval=5", cwd=tmp_path, check=0)
    assert "\r" not in proc.stdout + proc.stderr  # no progress bar redrawing itself into the file
    steps = [l for l in proc.stdout.splitlines() if l.startswith("iter ")]
    assert len(steps) == 6 and all(", eta " in l for l in steps)
    summary = proc.stdout.split("run summary: done at iteration 30")[1]
    assert "best" in summary and "tokens/s" in summary and "loss.png" in summary and "ckpt.pt" in summary
    png = matplotlib.image.imread(out / "loss.png")
    assert png.shape[0] > 100 and png.shape[1] > 100


def test_mfu_never_shows_above_100_percent(tmp_path, data_dir, monkeypatch):
    import nanogpt.step as S
    import nanogpt.train as T
    from nanogpt.config import TrainConfig, parse_config
    monkeypatch.setattr(S, "peak_flops", lambda device, dtype: 1e6)  # as if measured while the machine was busy
    cfg = parse_config(TrainConfig, [*TINY, f"--data_dir={data_dir}", f"--out_dir={tmp_path / 'run'}", "--max_iters=6",
                                     "--eval_interval=100", "--log_interval=2"])
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        T.train(cfg)
    mfus = [r["mfu"] for r in map(json.loads, open(tmp_path / "run" / "log.jsonl")) if "mfu" in r]
    assert len(mfus) == 3 and all(0 < m <= 1 for m in mfus), mfus
    assert "measured again" in printed.getvalue()
