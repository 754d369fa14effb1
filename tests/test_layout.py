"""The package's shape, as the structure and renovation issues set it: imports only point down the book, no function or class
is long, and the model chapter's module is GPT-2 alone."""
import ast
import pathlib

import nanogpt

PKG = pathlib.Path(nanogpt.__file__).parent
BOOK = ["core", "data", "model", "generate", "modern", "config", "checkpoint", "optim", "parallel", "eval", "shards", "step", "train", "sample", "playground",
        "bench", "corpus"]  # reading order


def modules():
    return {p.stem: ast.parse(p.read_text()) for p in PKG.glob("*.py") if p.stem not in ("__init__", "_modidx")}


def nanogpt_module(node: ast.ImportFrom):
    "The package module an import reads from (`from .core import x` and `from nanogpt.core import x` alike), or None."
    if node.level == 1 and node.module:
        return node.module.split(".")[0]
    if node.level == 0 and node.module and node.module.startswith("nanogpt."):
        return node.module.split(".")[1]
    return None


def test_every_module_is_a_chapter_of_the_book():
    assert sorted(modules()) == sorted(BOOK)


def test_imports_only_point_down_the_book():
    for name, tree in modules().items():
        imported = {nanogpt_module(n) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} - {None}
        assert imported or name == "core", f"nanogpt.{name} imports nothing from the package: is the check reading it?"
        later = [m for m in imported if BOOK.index(m) >= BOOK.index(name)]
        assert not later, f"nanogpt.{name} imports {later}, which come later in the book"
        if name != "train":
            assert "train" not in imported, f"nanogpt.{name} imports the trainer"


def test_no_function_is_longer_than_80_lines():
    lengths = {f"{name}.{f.name}": f.end_lineno - f.lineno + 1 for name, tree in modules().items()
               for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
    longest = max(lengths, key=lengths.get)
    assert lengths[longest] <= 80, f"{longest} is {lengths[longest]} lines"


def test_no_class_is_longer_than_150_lines():
    lengths = {f"{name}.{c.name}": c.end_lineno - c.lineno + 1 for name, tree in modules().items()
               for c in ast.walk(tree) if isinstance(c, ast.ClassDef)}
    longest = max(lengths, key=lengths.get)
    assert lengths[longest] <= 150, f"{longest} is {lengths[longest]} lines"


NOT_GPT2 = ["rope", "rotate", "qk_norm", "rms_norm", "RMSNorm", "relu2", "tie_head", "zero_init", "keep_weights", "Muon",
            "estimate_memory", "pos_emb", "mlp_act", "is_compiling"]  # what came after GPT-2, or belongs to other chapters


def test_the_model_module_is_gpt2_alone():
    source = (PKG / "model.py").read_text()
    found = [name for name in NOT_GPT2 if name in source]
    assert not found, f"nanogpt/model.py mentions {found}: that belongs to the modern, optim, parallel or generate chapter"
