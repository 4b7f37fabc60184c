"""The columnar series store: every series of a table in one contiguous array per column.

Series ``i`` is rows ``offsets[i]:offsets[i + 1]`` of ``values`` (the layout neuralforecast calls
``indptr``)::

    ids       a a a b b c c c c          names   = [a, b, c]   (first appearance)
    offsets   0     3   5       9        lengths = [3, 2, 4]
    values    (9, C) float64, one column per target / covariate, NaN where missing

Ids are factorised once; rows are grouped by a stable sort of the codes (skipped when the table
is already grouped), so each series keeps its file order, and every check runs on whole arrays:
no Python loop per series. A store can be cached as ``.npy`` files and memory-mapped back
(:func:`cached_store`), so later runs on a table larger than RAM read only the pages they use.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqlstm.data.series.statics import StaticColumns
from seqlstm.data.series.tables import Columns, Source, show_time, to_codes, to_float, to_time
from seqlstm.errors import DataError
from seqlstm.files import atomic_file, write_atomic
from seqlstm.target_transforms import TargetTransform

STORE_FILES = ("values", "time", "offsets")


@dataclass
class SeriesStore:
    """Series grouped in contiguous rows (see the module docstring)."""

    names: list[str]  # (S,) series ids
    offsets: np.ndarray  # (S + 1,) int64
    values: np.ndarray  # (N, C) float64, columns in schema order
    time: np.ndarray  # (N,) numbers or datetime64[ns]; position in the series without a column
    source: Source
    rows: np.ndarray | None = None  # (N,) 1-based source rows; None: row = store row + 1
    period: int = 0  # wide tables: source row = store row % period + 1
    statics: StaticColumns | None = None  # one value per series of each static covariate

    @property
    def num_series(self) -> int:
        return len(self.names)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def owners(self) -> np.ndarray:
        """``(N,)`` the series of every row."""
        return np.repeat(np.arange(self.num_series), self.lengths)

    def positions(self) -> np.ndarray:
        """``(N,)`` every row's position inside its series."""
        return np.arange(self.offsets[-1]) - np.repeat(self.offsets[:-1], self.lengths)

    def series_of(self, row: int) -> int:
        return int(np.searchsorted(self.offsets, row, side="right")) - 1

    def source_row(self, row: int) -> int:
        """The 1-based table row of store row ``row``, for messages."""
        if self.rows is not None:
            return int(self.rows[row])
        return row % self.period + 1 if self.period else row + 1

    def where(self, row: int) -> str:
        """``series 'a', row 12 (line 13)``: a store row as error messages name it."""
        return (f"series '{self.names[self.series_of(row)]}', "
                f"{self.source.row(self.source_row(row))}")

    def select(self, keep: np.ndarray) -> SeriesStore:
        """The rows where ``keep`` ``(N,)`` is true, every series kept (perhaps empty)."""
        counts = np.bincount(self.owners()[keep], minlength=self.num_series)
        return SeriesStore(self.names, np.concatenate([[0], np.cumsum(counts)]),
                           self.values[keep], self.time[keep], self.source,
                           self.all_rows()[keep], statics=self.statics)

    def all_rows(self) -> np.ndarray:
        """``(N,)`` the 1-based table row of every store row."""
        if self.rows is not None:
            return self.rows
        index = np.arange(self.offsets[-1], dtype=np.int64)
        return index % self.period + 1 if self.period else index + 1


def long_store(columns: Columns, value_columns: list[str], time_column: str | None,
               id_column: str | None, time_format: str | None) -> SeriesStore:
    """The store of a long table (one row per series and step), grouped by ``id_column``."""
    source = columns.source
    values = _value_matrix(columns, value_columns)
    time = None if time_column is None else to_time(columns.arrays.pop(time_column), source,
                                                    time_column, time_format)
    if id_column is None:
        codes, names = np.zeros(columns.num_rows, dtype=np.int64), ["0"]
    else:
        codes, names = to_codes(columns.arrays.pop(id_column), source, id_column)
    rows = None
    if len(names) > 1 and (codes[1:] < codes[:-1]).any():  # not grouped yet: a stable sort
        order = np.argsort(codes, kind="stable")
        values, codes = values[order], codes[order]
        time = None if time is None else time[order]
        rows = order + 1
    counts = np.bincount(codes, minlength=len(names))
    store = SeriesStore(names, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                        values, np.empty(0), source, rows)
    store.time = store.positions() if time is None else time
    if time_column is not None:
        check_sorted(store, time_column)
    return store


def wide_store(columns: Columns, time_column: str | None,
               time_format: str | None) -> SeriesStore:
    """The store of a wide table: every column but the time column is one series (named by
    the column) of a single target."""
    source = columns.source
    time = None if time_column is None else to_time(columns.arrays.pop(time_column), source,
                                                    time_column, time_format)
    names = list(columns.arrays)
    if not names:
        raise DataError(f"{source.name}: a wide table needs one column per series besides the "
                        f"time column; the columns are {columns.names}")
    steps = columns.num_rows
    values = np.concatenate([to_float(columns.arrays.pop(n), source, n) for n in names])
    offsets = np.arange(len(names) + 1, dtype=np.int64) * steps
    store = SeriesStore(names, offsets, values[:, None], np.empty(0), source, period=steps)
    store.time = store.positions() if time is None else np.tile(time, len(names))
    if time_column is not None:
        check_sorted(store, time_column)
    return store


def _value_matrix(columns: Columns, names: list[str]) -> np.ndarray:
    """``(N, C)`` float64 of the value columns (each arrow column freed once converted)."""
    arrays = [to_float(columns.arrays.pop(n), columns.source, n) for n in names]
    if len(arrays) > 1:
        return np.stack(arrays, axis=1)
    # a zero-copy view of an arrow buffer is read-only; torch wants writable memory
    return (arrays[0] if arrays[0].flags.writeable else arrays[0].copy())[:, None]


def check_sorted(store: SeriesStore, column: str, block: int = 0,
                 done: Callable[[], None] = lambda: None) -> None:
    """Times must strictly increase within each series, in file order. ``block``: compare
    that many rows at a time (0: all at once), calling ``done`` after each block."""
    t, cross = store.time, store.offsets[1:-1] - 1  # the pairs that cross into the next series
    step = block or len(t)
    for a in range(0, len(t) - 1, step):
        b = min(a + step, len(t) - 1)  # the pairs (i, i + 1) for i in [a, b)
        ok = t[a + 1: b + 1] > t[a:b]
        ok[cross[np.searchsorted(cross, a): np.searchsorted(cross, b)] - a] = True
        bad = np.flatnonzero(~ok)
        if len(bad):
            _unsorted(store, column, a + int(bad[0]) + 1)
        done()


def _unsorted(store: SeriesStore, column: str, i: int) -> None:
    t = store.time
    what = "repeats" if t[i] == t[i - 1] else "is earlier than"
    advice = ("each time may appear once per series" if what == "repeats"
              else "sort the rows by time")
    raise DataError(f"{store.source.name}: {store.where(i)}: {column} {show_time(t[i])} {what} "
                    f"the previous row's {show_time(t[i - 1])}; {advice}")


def check_counts(store: SeriesStore, targets: list[str]) -> None:
    """Every target value is a count: a non-negative whole number (NaN: missing, left to the
    missing-value policy)."""
    values = store.values[:, : len(targets)]
    _first_bad(store, targets, (values < 0) | (values != np.round(values)),
               "is not a count (data.counts=true: targets must be non-negative whole numbers)")


def check_domain(store: SeriesStore, targets: list[str], transform: TargetTransform) -> None:
    """Every target value lies where ``transform`` is defined (NaN: missing, left to the
    missing-value policy)."""
    if not transform.identity:
        _first_bad(store, targets, transform.outside(store.values[:, : len(targets)]),
                   f"is not {transform.expected} (data.target_transform={transform.name} "
                   f"needs {transform.expected} targets)")


def _first_bad(store: SeriesStore, targets: list[str], bad: np.ndarray, what: str) -> None:
    """Name the first target value where ``bad`` ``(N, n_targets)`` holds: ``what`` it is."""
    if bad.any():
        i, j = divmod(int(np.argmax(bad)), bad.shape[1])
        raise DataError(f"{store.source.name}: {store.where(i)}, column '{targets[j]}': "
                        f"{store.values[i, j]:g} {what}")


# -- the .npy cache ----------------------------------------------------------------------------
def cache_key(path: str | Path, settings: dict[str, Any]) -> str:
    """A name for the store of ``path`` read with ``settings``: it changes with the file."""
    stat = Path(path).stat()
    text = json.dumps([str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns, settings],
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def save_store(store: SeriesStore, folder: Path, skip: tuple[str, ...] = ()) -> None:
    """Write ``store`` as ``.npy`` files and a JSON index (written last: its presence means the
    folder is complete); ``skip``: arrays already written there."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"values": store.values, "time": store.time, "offsets": store.offsets}
    if store.rows is not None:
        arrays["rows"] = store.rows
    if store.statics is not None:
        arrays.update(static_codes=store.statics.codes, static_values=store.statics.values)
    for name, array in arrays.items():
        if name not in skip:
            with atomic_file(folder / f"{name}.npy") as out:
                np.save(out, np.ascontiguousarray(array), allow_pickle=False)
    write_atomic(folder / "index.json", json.dumps(
        {"names": store.names, "source": store.source.name, "is_csv": store.source.is_csv,
         "period": store.period, "rows": store.rows is not None,
         "statics": None if store.statics is None else store.statics.as_index()}).encode())


def load_store(folder: Path) -> SeriesStore:
    """The store :func:`save_store` wrote, its arrays memory-mapped (copy-on-write)."""
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    statics = index.get("statics")
    arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="c", allow_pickle=False)
              for name in (*STORE_FILES, *(("rows",) if index["rows"] else ()),
                           *(("static_codes", "static_values") if statics else ()))}
    return SeriesStore(index["names"], np.asarray(arrays["offsets"]), arrays["values"],
                       arrays["time"], Source(index["source"], index["is_csv"]),
                       arrays.get("rows"), index["period"],
                       StaticColumns(**statics, codes=np.asarray(arrays["static_codes"]),
                                     values=np.asarray(arrays["static_values"]))
                       if statics else None)
