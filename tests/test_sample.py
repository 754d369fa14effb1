"""nanogpt-sample: prompts, streaming, several samples, bad input (the playground is test_playground.py)."""
from conftest import one_line_error, run_cli
from nanogpt.sample import SampleConfig, sample


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


def test_sample_from_local_hf_dir_with_empty_prompt(tmp_path, tiny_gpt2):
    proc = run_cli("nanogpt-sample", f"--init_from={tiny_gpt2}", "--start=", "--num_samples=1", "--max_new_tokens=8", "--temperature=0",
                   cwd=tmp_path, check=0)
    assert "sample 1 of 1" in proc.stdout and "<|endoftext|>" in proc.stdout  # started from the end-of-text token
