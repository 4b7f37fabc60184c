"""Corpora that exist on every machine without a download."""

from __future__ import annotations

import sysconfig
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
