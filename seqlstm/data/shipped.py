"""Data files that ship inside installed packages (read in place, never imported)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from seqlstm.errors import DataError


def aeon_data_dir() -> Path | None:
    """The ``aeon/datasets/data`` folder of an installed aeon wheel, found without importing
    aeon; None when aeon is not installed."""
    spec = importlib.util.find_spec("aeon")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    return folder if folder.is_dir() else None


def aeon_file(name: str, split: str) -> str:
    """The path of ``<name>/<name>_<split>.ts`` in the installed aeon wheel (e.g.
    ``JapaneseVowels``, ``TRAIN``)."""
    folder = aeon_data_dir()
    if folder is None:
        raise DataError(f"{name}: this dataset ships in the aeon wheel, which is not installed "
                        "(pip install aeon --no-deps)")
    path = folder / name / f"{name}_{split}.ts"
    if not path.is_file():
        raise DataError(f"{path}: not in the installed aeon wheel")
    return str(path)
