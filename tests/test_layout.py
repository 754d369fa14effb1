"""The package's shape, as the structure issue set it: imports only point down the book, and no function is long."""
import ast
import pathlib

import nanogpt

PKG = pathlib.Path(nanogpt.__file__).parent
BOOK = ["core", "data", "model", "generate", "config", "checkpoint", "train", "sample", "playground", "bench", "corpus", "eval"]  # reading order


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
