"""Real time series shipped inside installed packages (no download)."""

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
