"""nanogpt-sample and the playground widgets, driven from Python (the browser test is test_playground_browser.py)."""
import html

import pytest
import torch

from conftest import one_line_error, run_cli
from nanogpt.core import NanoGPTError
from nanogpt.playground import MAIN_JOB, Playground, app, find_runs
from nanogpt.sample import SampleConfig, sample


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, shakespeare_input):
    "A tiny character model trained with the real CLI."
    root = tmp_path_factory.mktemp("runs")
    run_cli("nanogpt-train", "train_shakespeare_char_cpu", f"--out_dir={root / 'out-tiny'}", f"--data_dir={root / 'data'}",
            "--n_layer=2", "--n_head=2", "--n_embd=32", "--max_iters=60", "--eval_interval=60", "--eval_iters=2",
            "--log_interval=20", "--always_save_checkpoint=True", cwd=root,
            env={"NANOGPT_SHAKESPEARE": str(shakespeare_input)}, check=0)
    return root / "out-tiny"


# ---- the command line ----

def test_sample_cli_file_prompt_several_samples_reproducible(tmp_path, run_dir):
    (tmp_path / "prompt.txt").write_text("KING RICHARD III:\n")
    args = [f"--out_dir={run_dir}", "--start=FILE:prompt.txt", "--num_samples=3", "--max_new_tokens=40", "--seed=5"]
    a = run_cli("nanogpt-sample", *args, cwd=tmp_path, check=0)
    b = run_cli("nanogpt-sample", *args, cwd=tmp_path, check=0)
    assert a.stdout == b.stdout
    assert [l for l in a.stdout.splitlines() if l.startswith("-----")] == [
        f"{'-' * 24} sample {k} of 3 {'-' * 24}" for k in (1, 2, 3)]
    bodies = a.stdout.split("-" * 24 + "\n")[1:]
    assert len(bodies) == 3 and all(b.startswith("KING RICHARD III:\n") for b in bodies)
    c = run_cli("nanogpt-sample", *args[:-1], "--seed=6", cwd=tmp_path, check=0)
    assert c.stdout != a.stdout


def test_sample_streams_token_by_token(run_dir):
    class Recorder:
        def __init__(self): self.writes = []
        def write(self, s): self.writes.append(s)
        def flush(self): pass
    rec = Recorder()
    texts = sample(SampleConfig(out_dir=str(run_dir), start="ROMEO:", num_samples=1, max_new_tokens=50, device="cpu"), out=rec)
    assert len(rec.writes) >= 50  # one write per generated token, each flushed
    assert "".join(rec.writes).endswith(texts[0] + "\n")


def test_sample_cli_bad_input(tmp_path, run_dir):
    (tmp_path / "empty-run").mkdir()
    (tmp_path / "empty-run" / "notes.txt").write_text("x")
    one_line_error(run_cli("nanogpt-sample", "--out_dir=empty-run", cwd=tmp_path), "no checkpoint", "notes.txt", "nanogpt-train")
    one_line_error(run_cli("nanogpt-sample", f"--out_dir={run_dir}", "--start=FILE:nope.txt", cwd=tmp_path), "nope.txt")
    (tmp_path / "latin1.txt").write_bytes("Größe".encode("latin-1"))
    one_line_error(run_cli("nanogpt-sample", f"--out_dir={run_dir}", "--start=FILE:latin1.txt", cwd=tmp_path), "not UTF-8")
    one_line_error(run_cli("nanogpt-sample", f"--out_dir={run_dir}", "--max_new_tokens=0", cwd=tmp_path), "max_new_tokens=0")
    one_line_error(run_cli("nanogpt-sample", f"--out_dir={run_dir}", "--dtype=float16", "--device=cpu", cwd=tmp_path),
                   "float16 needs a GPU")
    one_line_error(run_cli("nanogpt-sample", f"--out_dir={run_dir}", "--start=Größe", cwd=tmp_path), "'ß'", "'ö'")
    one_line_error(run_cli("nanogpt-sample", f"--out_dir={run_dir}", "--top_p=1.5", cwd=tmp_path), "top_p=1.5")
    one_line_error(run_cli("nanogpt-sample", "--init_from=gpt-5", cwd=tmp_path), "init_from='gpt-5'", "gpt2-xl")
    one_line_error(run_cli("nanogpt-sample", "--init_from=gpt2", cwd=tmp_path,
                           env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}), "openai-community/gpt2")


def test_sample_from_local_hf_dir_with_empty_prompt(tmp_path):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    d = tmp_path / "tiny-gpt2"
    transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=1, n_head=2, n_embd=32, n_positions=64)).save_pretrained(d)
    proc = run_cli("nanogpt-sample", f"--init_from={d}", "--start=", "--num_samples=1", "--max_new_tokens=8", "--temperature=0",
                   cwd=tmp_path, check=0)
    assert "sample 1 of 1" in proc.stdout and "<|endoftext|>" in proc.stdout  # started from the end-of-text token


# ---- the playground, driven from Python ----

def text_of(pg):
    return html.unescape(pg.output.value.split(">", 1)[1].rsplit("</pre>", 1)[0])


def test_playground_streams_in_order_without_blocking(run_dir):
    pg = Playground(run_dir, runs=[run_dir], device="cpu", dtype="float32")
    seen = []
    pg.output.observe(lambda c: seen.append(c["new"]), names="value")
    pg.prompt.value, pg.max_new_tokens.value, pg.temperature.value, pg.top_k.value, pg.top_p.value = "ROMEO:", 300, 0.9, 20, 0.95
    pg.refresh = 0.0
    pg.generate_button.click()
    assert pg.busy and pg.generate_button.disabled and not pg.stop_button.disabled  # the click came back while generating
    pg.wait(60)
    assert not pg.busy
    texts = [html.unescape(v.split(">", 1)[1].rsplit("</pre>", 1)[0]) for v in seen]
    assert len(texts) > 20 and all(b.startswith(a) for a, b in zip(texts, texts[1:]))
    assert len(text_of(pg)) == len("ROMEO:") + 300 and pg.stats["tokens"] == 300
    assert pg.probs.value.count("pg-prob-row") == 10 and "done: 300 tokens" in pg.status.value
    # the same settings and seed give the same text
    first = text_of(pg)
    pg.generate_button.click(); pg.wait(60)
    assert text_of(pg) == first


def test_playground_stop(run_dir):
    pg = Playground(run_dir, device="cpu", dtype="float32")
    pg.prompt.value, pg.max_new_tokens.value, pg.refresh = "\n", 2000, 0.0
    # click Stop from the output's observer, i.e. inside the generation, as soon as the first text shows: no clock involved
    pg.output.observe(lambda change: pg.stop_button.click(), names="value")
    pg.generate_button.click()
    pg.wait(60)
    assert pg.stats["stopped"] and pg.stats["tokens"] <= 2 and "stopped:" in pg.status.value
    assert not pg.busy and not pg.generate_button.disabled and pg.stop_button.disabled


def test_playground_errors_go_to_status(run_dir, tmp_path, monkeypatch):
    pg = Playground(run_dir, device="cpu")
    pg.prompt.value = "Ĥello"
    pg.generate_button.click()
    assert "pg-status-error" in pg.status.value and "Ĥ" in pg.status.value and not pg.busy
    pg.prompt.value = ""
    pg.next_button.click()
    assert "pg-status-error" in pg.status.value and "empty" in pg.status.value
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    pg.picker.value = "gpt2"  # cannot download here: the status says so, no traceback
    assert "pg-status-error" in pg.status.value and "gpt2" in pg.status.value and pg.model is None
    pg.generate_button.click()
    assert "no model loaded" in pg.status.value


def test_playground_next_token_chart_and_picker(run_dir, tmp_path):
    other = tmp_path / "runs" / "second"
    other.mkdir(parents=True)
    (other / "ckpt.pt").write_bytes((run_dir / "ckpt.pt").read_bytes())
    runs = find_runs(tmp_path, run_dir.parent)
    assert set(runs) == {other.resolve(), run_dir.resolve()}
    pg = Playground(runs[0], runs=runs, device="cpu")
    labels = [label for label, _ in pg.picker.options]
    assert str(runs[1]) in labels and "gpt2-xl (pretrained)" in labels
    pg.picker.value = str(runs[1])
    assert "pg-status-ok" in pg.status.value and pg.model is not None
    pg.prompt.value, pg.temperature.value = "ROMEO:\nWhat", 0.0
    pg.next_button.click()
    assert pg.probs.value.count("pg-prob-row") == 10


def test_app_without_runs_says_how_to_train(tmp_path):
    pg = app([tmp_path])
    assert MAIN_JOB in html.unescape(pg.status.value) and pg.model is None


def test_playground_with_a_model_object(run_dir):
    from nanogpt.checkpoint import load_model
    model, tokenizer = load_model(run_dir)
    with pytest.raises(NanoGPTError, match="needs its tokenizer"):
        Playground(model)
    pg = Playground(model, tokenizer)
    assert pg.picker.value == "__given__" and pg.model is not None
