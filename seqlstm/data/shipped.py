"""Data files that ship inside installed packages (read in place, never imported)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from seqlstm.errors import DataError


def statsmodels_csv(name: str) -> str:
    """The CSV of statsmodels' dataset ``name`` (e.g. ``sunspots``, ``co2``) in the installed
    package; an error says how to get statsmodels when it is absent."""
    spec = importlib.util.find_spec("statsmodels")
    if spec is None or spec.origin is None:
        raise DataError(f"the '{name}' data config reads statsmodels' shipped {name}.csv, but "
                        "statsmodels is not installed; pip install 'seqlstm[timeseries]' (or "
                        "statsmodels), or point data.path at a CSV of your own")
    path = Path(spec.origin).parent / "datasets" / name / f"{name}.csv"
    if not path.is_file():
        raise DataError(f"statsmodels at {path.parents[2]} ships no dataset '{name}' ({path} "
                        "is absent)")
    return str(path)

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
