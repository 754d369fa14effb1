"""The chapters' exercises: every worked solution passes its check, and a wrong answer fails it (so the checks can
fail) with a hint that does not give the answer away."""
import math
import re
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "nbs"))
from exercises import checks, solutions  # noqa: E402

torch.set_num_threads(1)  # tiny tensors: one thread is fastest, and kind to a shared CPU

EXERCISES = {  # check -> the solution it must accept, and a plausible wrong answer it must reject
    "model_1": (solutions.attention_without_mask, lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1), -1) @ v),
    "model_2": (solutions.gpt_param_count, lambda L, C, V, T: 12 * L * C * C),
    "model_3": (solutions.my_layer_norm, lambda x, g, b, eps=1e-5: (x - x.mean(-1, keepdim=True)) * g + b),
    "model_4": ((solutions.loss_at_init, solutions.measure_loss_at_init),  # a model that knows nothing scores 1 - 1/V?
                (lambda V: 1 - 1 / V, solutions.measure_loss_at_init)),
    "model_5": ((solutions.attention_entropy, solutions.effective_keys_answer()),
                (lambda d, scaled, T=64, n=256, seed=0: solutions.attention_entropy(d, True),  # the scale changes nothing?
                 solutions.effective_keys_answer())),
    "generate_1": (solutions.top_k_filter, lambda logits, k: logits),
    "generate_2": (solutions.min_p_probs, lambda logits, p: torch.softmax(logits, -1)),
    "generate_3": (solutions.kv_cache_bytes, lambda L, C, T, B, nbytes: L * C * T * B * nbytes),
    "train_1": (solutions.wsd_lr, lambda it, n, lr, w, f: lr),
    "train_2": (solutions.unigram_loss, lambda a, b, V: 1.0),
    "train_3": (solutions.accumulated_grads, lambda model, x, y, n: [torch.zeros_like(p) for p in model.parameters()]),
    "train_4": ((solutions.train_minimal, *solutions.lr_x10_answers()),  # right loop, wrong verdict: a larger rate is faster
                (solutions.train_minimal, solutions.lr_x10_answers()[0], False)),
    "optim_1": (solutions.first_below_half, lambda warmup, decay, lr, min_lr: warmup + (decay - warmup) // 2),
    "modern_1": (solutions.rope_turn, lambda x, pos: x),
    "speedrun_1": (solutions.newton_schulz_steps, lambda G: 5),
    "sample_1": (solutions.sequence_logprob, lambda model, ids: 0.0),
    "sample_2": (solutions.mean_lookback, lambda att: torch.zeros(att.size(0))),
    "sample_3": (solutions.penalize, lambda logits, seen, penalty: logits / penalty),
    "data_1": ((solutions.byte_encode, solutions.byte_decode), (lambda t: [ord(c) % 256 for c in t], solutions.byte_decode)),
    "data_3": (solutions.bpe_merge_once, lambda ids: (tuple(ids[:2]), [256] + list(ids[2:]))),  # merge the first pair
    "data_2": (solutions.make_xy, lambda tokens, starts, T: (torch.stack([tokens[s:s + T] for s in starts]),) * 2),
    "bench_1": (solutions.mfu_by_hand, lambda n, L, C, T, tps, peak: 6 * n * tps / peak),
    "bench_2": (solutions.decode_floor_ms, lambda n_params, bytes_per_param, bandwidth: n_params / bandwidth),
    "eval_1": (solutions.bpb_from_loss, lambda loss, tokens, nbytes: loss / math.log(2)),
}


NOT_IN_HINT = {  # check -> what the hint for its wrong answer above must not say: the answer's value or formula
    "model_1": ["√", "sqrt"],
    "model_2": ["124,439,808", "12 *"],
    "model_4": ["10.8", "4.17", "ln", "log"],
    "model_5": ["39.", "40", "1.7", "1.8", "√", "exp", "e^"],
    "generate_3": ["2 *", "98,304"],
    "train_1": ["0.5", "0.1"],
    "train_2": ["1.45", "bincount"],
    "train_4": ["True", "1.6", "5.", "3.26"],
    "optim_1": ["2724", "2,724", "cos(", "acos"],
    "modern_1": ["10000", "hs/2", "**"],
    "data_3": ["[256, 3, 256, 4]"],
    "bench_1": ["6 *", "12 *"],
    "bench_2": ["0.074", "1e3"],
    "eval_1": ["0.69", "0.70", "ln 2"],
}


def call(check, answer):
    return check(*answer) if isinstance(answer, tuple) else check(answer)


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_solution_passes_and_a_wrong_answer_fails(name, capsys):
    solution, wrong = EXERCISES[name]
    passed = call(getattr(checks, name), solution)
    assert passed, capsys.readouterr().out
    capsys.readouterr()
    assert not call(getattr(checks, name), wrong)
    out = capsys.readouterr().out
    assert "not yet: " in out
    hint = out.split("not yet: ", 1)[1]
    assert not re.search(r"expected -?\d", hint), hint  # a shape may be stated ("expected (3, 8)"), never a value
    assert not [s for s in NOT_IN_HINT.get(name, []) if s in hint], hint


def test_every_check_has_a_solution_and_an_unattempted_answer_is_reported():
    names = {n for n in dir(checks) if n[0] != "_" and callable(getattr(checks, n)) and "_" in n and n[-1].isdigit()}
    assert names == set(EXERCISES)

    def todo(*args):
        raise NotImplementedError
    assert not checks.model_1(todo)
