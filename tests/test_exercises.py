"""The chapters' exercises: every worked solution passes its check, and a wrong answer fails it (so the checks can fail)."""
import math
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "nbs"))
from exercises import checks, solutions  # noqa: E402

EXERCISES = {  # check -> the solution it must accept, and a plausible wrong answer it must reject
    "model_1": (solutions.attention_without_mask, lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1), -1) @ v),
    "model_2": (solutions.gpt_param_count, lambda L, C, V, T: 12 * L * C * C),
    "model_3": (solutions.my_layer_norm, lambda x, g, b, eps=1e-5: (x - x.mean(-1, keepdim=True)) * g + b),
    "generate_1": (solutions.top_k_filter, lambda logits, k: logits),
    "generate_2": (solutions.min_p_probs, lambda logits, p: torch.softmax(logits, -1)),
    "generate_3": (solutions.kv_cache_bytes, lambda L, C, T, B, nbytes: L * C * T * B * nbytes),
    "train_1": (solutions.wsd_lr, lambda it, n, lr, w, f: lr),
    "train_2": (solutions.unigram_loss, lambda a, b, V: 1.0),
    "train_3": (solutions.accumulated_grads, lambda model, x, y, n: [torch.zeros_like(p) for p in model.parameters()]),
    "modern_1": (solutions.rope_turn, lambda x, pos: x),
    "modern_2": (solutions.newton_schulz_steps, lambda G: 5),
    "sample_1": (solutions.sequence_logprob, lambda model, ids: 0.0),
    "sample_2": (solutions.mean_lookback, lambda att: torch.zeros(att.size(0))),
    "sample_3": (solutions.penalize, lambda logits, seen, penalty: logits / penalty),
    "data_1": ((solutions.byte_encode, solutions.byte_decode), (lambda t: [ord(c) % 256 for c in t], solutions.byte_decode)),
    "data_2": (solutions.make_xy, lambda tokens, starts, T: (torch.stack([tokens[s:s + T] for s in starts]),) * 2),
    "bench_1": (solutions.mfu_by_hand, lambda n, L, C, T, tps, peak: 6 * n * tps / peak),
    "bench_2": (solutions.decode_floor_ms, lambda n_params, bytes_per_param, bandwidth: n_params / bandwidth),
    "eval_1": (solutions.bpb_from_loss, lambda loss, tokens, nbytes: loss / math.log(2)),
}


def call(check, answer):
    return check(*answer) if isinstance(answer, tuple) else check(answer)


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_solution_passes_and_a_wrong_answer_fails(name, capsys):
    solution, wrong = EXERCISES[name]
    assert call(getattr(checks, name), solution), capsys.readouterr().out
    assert not call(getattr(checks, name), wrong)
    assert "not yet" in capsys.readouterr().out


def test_every_check_has_a_solution_and_an_unattempted_answer_is_reported():
    names = {n for n in dir(checks) if n[0] != "_" and callable(getattr(checks, n)) and "_" in n and n[-1].isdigit()}
    assert names == set(EXERCISES)

    def todo(*args):
        raise NotImplementedError
    assert not checks.model_1(todo)
