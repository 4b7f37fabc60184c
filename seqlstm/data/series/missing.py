"""Missing values in a series store, handled for every series at once (no loop per series).

``error`` refuses any missing value; ``ffill`` carries the last value forward; ``interpolate``
draws a straight line between neighbours (by position); ``drop`` removes the row. Nothing
crosses from one series into the next: a value that cannot be filled (a leading gap for
``ffill``, an edge gap for ``interpolate``) is an error naming the series, row and column.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seqlstm.data.series.store import SeriesStore
from seqlstm.data.series.tables import show_time
from seqlstm.errors import DataError


def fill_missing(store: SeriesStore, columns: Sequence[str], policy: str,
                 time_name: str) -> SeriesStore:
    """``store`` with the missing-value ``policy`` applied to its value columns."""
    missing = np.isnan(store.values)  # (N, C)
    if not missing.any():
        return store
    if policy == "drop":
        return store.select(~missing.any(axis=1))
    if policy in ("ffill", "interpolate"):
        values = np.array(store.values)  # a copy: the store may be memory-mapped
        starts = np.repeat(store.offsets[:-1], store.lengths)  # (N,) first row of each row's series
        ends = np.repeat(store.offsets[1:], store.lengths)
        for j in np.flatnonzero(missing.any(axis=0)):
            values[:, j] = _fill_column(values[:, j], ~missing[:, j], starts, ends,
                                        interpolate=policy == "interpolate")
        store = SeriesStore(store.names, store.offsets, values, store.time, store.source,
                            store.rows, store.period, store.statics)
        missing = np.isnan(values)
    if missing.any():
        i, j = (int(k[0]) for k in np.nonzero(missing))
        if policy == "error":
            advice = "set data.missing to ffill, interpolate or drop to handle it"
        else:
            advice = f"data.missing={policy} cannot fill a gap at the edge of a series"
        raise DataError(f"{store.source.name}: {store.where(i)}, {time_name} "
                        f"{show_time(store.time[i])}: column '{columns[j]}' is missing; {advice}")
    return store


def _fill_column(column: np.ndarray, valid: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                 interpolate: bool) -> np.ndarray:
    """One column filled from the last valid row before (and, to interpolate, the first valid
    row after) each gap inside the same series; NaN where there is none."""
    index = np.arange(len(column))
    before = np.maximum.accumulate(np.where(valid, index, -1))
    has_before = before >= starts
    if not interpolate:
        return np.where(has_before, column[before.clip(0)], np.nan)
    after = np.minimum.accumulate(np.where(valid, index, len(column))[::-1])[::-1]
    inside = has_before & (after < ends)
    lo, hi = before.clip(0), after.clip(max=len(column) - 1)
    span = np.where(hi > lo, hi - lo, 1)
    line = column[lo] + (column[hi] - column[lo]) * (index - lo) / span
    return np.where(valid, column, np.where(inside, line, np.nan))
