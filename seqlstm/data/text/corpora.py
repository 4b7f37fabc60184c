"""Corpora that exist on every machine without a download."""

from __future__ import annotations

import ast
import json
import os
import sysconfig
from collections.abc import Sequence
from pathlib import Path


def python_stdlib_files(max_bytes: int = 2_000_000) -> list[str]:
    """Top-level ``.py`` files of the running Python's standard library, in name order,
    up to ``max_bytes`` in total: a deterministic offline corpus of real text."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    chosen, total = [], 0
    for file in sorted(stdlib.glob("*.py")):
        size = file.stat().st_size
        if total + size > max_bytes:
            break
        chosen.append(str(file))
        total += size
    return chosen


#: stdlib packages present in every CPython 3.10-3.13 (tkinter and idlelib may be left out)
DOCSTRING_PACKAGES = ("asyncio", "email", "http", "importlib", "logging", "multiprocessing",
                      "unittest", "xml")


def python_docstrings(dest: str | Path, packages: Sequence[str] = DOCSTRING_PACKAGES,
                      min_words: int = 5) -> str:
    """A labelled text corpus that every machine has: the docstrings (modules, classes,
    functions; at least ``min_words`` words) of the standard library's ``packages``, each
    labelled with its package, test folders left out. Written once to ``dest`` as JSONL
    (``text``, ``label``; files and nodes in a fixed order) and returned as its path."""
    dest = Path(dest)
    if dest.is_file():
        return str(dest)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    lines = []
    for package in packages:
        for file in sorted((stdlib / package).rglob("*.py")):
            if {"test", "tests"} & set(file.relative_to(stdlib).parts):
                continue
            tree = ast.parse(file.read_text(encoding="utf-8", errors="replace"))
            for node in ast.walk(tree):
                if isinstance(node, DOCUMENTED):
                    doc = ast.get_docstring(node)
                    if doc and len(doc.split()) >= min_words:
                        text = " ".join(doc.split())
                        lines.append(json.dumps({"text": text, "label": package}))
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.part")
    partial.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(partial, dest)
    return str(dest)


DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
