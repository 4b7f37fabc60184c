"""Reading the columns of a table of time series (CSV, Parquet, NumPy, pandas), checked.

CSV and Parquet are read with pyarrow, only the columns the data config names, into columnar
arrays (no per-row Python objects); ``.npy``/``.npz`` files and in-memory DataFrames give the
same arrays. Every check names the source (file), the row (and, for CSV, the line) and the
column, so a bad value can be found with a text editor.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqlstm.errors import DataError

MISSING_POLICIES = ("error", "ffill", "interpolate", "drop")
#: the series id given to the rows of a table without an id column
SINGLE_SERIES = "0"


@dataclass(frozen=True)
class Source:
    """Where a table came from, for error messages: a file (``.csv`` has lines) or a DataFrame."""

    name: str
    is_csv: bool = False

    def row(self, row: int) -> str:
        return f"row {row} (line {row + 1})" if self.is_csv else f"row {row}"


@dataclass
class Columns:
    """The named columns of a table, each a pyarrow ``ChunkedArray`` or a NumPy/pandas array
    of ``num_rows`` values in file order; ``names`` are all the table's columns."""

    arrays: dict[str, Any]
    names: list[str]
    num_rows: int
    source: Source


def read_columns(path: str | Path | pd.DataFrame, wanted: Sequence[str] | None,
                 text: Sequence[str] = (), ids: str | None = None) -> Columns:
    """The columns ``wanted`` (None: all) of the table at ``path`` (or the DataFrame itself);
    CSV columns in ``text`` are read as text (times with a format), the id column ``ids`` as
    a dictionary of text (one string per distinct id, not per row: "007" stays a name).

    ``.npy``: a 1-D or 2-D array, columns named ``"0"``, ``"1"``...; ``.npz``: one 1-D array per
    column, named by its key. A wanted column the table lacks is left out (see
    :func:`require_columns`).
    """
    if isinstance(path, pd.DataFrame):
        return _frame_columns(path, wanted, Source("<DataFrame>"))
    file = Path(path)
    if not file.is_file():
        raise DataError(f"data.path: no such file: {file}")
    suffix = file.suffix.lower()
    source = Source(str(file), is_csv=suffix == ".csv")
    with readable(file):
        if suffix == ".csv":
            return _csv_columns(file, wanted, text, ids, source)
        if suffix in (".parquet", ".pq"):
            return _parquet_columns(file, wanted, ids, source)
        if suffix in (".npy", ".npz"):
            return _frame_columns(_numpy_frame(file), wanted, source)
    raise DataError(f"{file}: unknown table format '{suffix}'; expected .csv, .parquet, .npy "
                    "or .npz")


@contextlib.contextmanager
def readable(file: Path) -> Iterator[None]:
    """Turn a reader's error on ``file`` into one line: ``FILE: not a readable .csv table``."""
    try:
        yield
    except (ValueError, OSError, pd.errors.ParserError) as err:
        if isinstance(err, DataError):
            raise
        detail = " ".join(str(err).split()) or type(err).__name__
        raise DataError(f"{file}: not a readable {file.suffix.lower()} table ({detail})") \
            from None


def column_names(file: Path) -> list[str]:
    """The column names of a CSV (its header) or Parquet file (its schema)."""
    if file.suffix.lower() == ".csv":
        with open(file, newline="", encoding="utf-8") as stream:
            return next(csv.reader(stream), [])
    import pyarrow.parquet as pq

    return [str(c) for c in pq.read_schema(file).names]


def _checked(columns: Columns) -> Columns:
    if columns.num_rows == 0:
        raise DataError(f"{columns.source.name}: the table has no rows")
    return columns


def _csv_columns(file: Path, wanted: Sequence[str] | None, text: Sequence[str],
                 ids: str | None, source: Source) -> Columns:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    header = column_names(file)
    keep = [c for c in header if wanted is None or c in wanted]
    table = pcsv.read_csv(file, convert_options=pcsv.ConvertOptions(
        include_columns=keep, strings_can_be_null=True,
        column_types={**{c: pa.string() for c in text if c in keep},
                      **({ids: pa.dictionary(pa.int32(), pa.string())} if ids in keep else {})}))
    return _checked(Columns({name: table.column(name) for name in keep}, header,
                            table.num_rows, source))


def _parquet_columns(file: Path, wanted: Sequence[str] | None, ids: str | None,
                     source: Source) -> Columns:
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = column_names(file)
    keep = [c for c in names if wanted is None or c in wanted]
    schema = pq.read_schema(file)
    text_ids = ids in keep and schema.field(ids).type in (pa.string(), pa.large_string())
    table = pq.read_table(file, columns=keep, read_dictionary=[ids] if text_ids else None)
    return _checked(Columns({name: table.column(name) for name in keep}, names,
                            table.num_rows, source))


def _numpy_frame(file: Path) -> pd.DataFrame:
    if file.suffix.lower() == ".npy":
        array = np.load(file, allow_pickle=False)
        if array.ndim not in (1, 2):
            raise DataError(f"{file}: a .npy array must be 1-D or 2-D (time, columns), "
                            f"got shape {array.shape}")
        return pd.DataFrame(array.reshape(len(array), -1))
    with np.load(file, allow_pickle=False) as arrays:
        columns = {key: arrays[key] for key in arrays.files}
    if any(v.ndim != 1 for v in columns.values()) or len({len(v) for v in columns.values()}) > 1:
        raise DataError(f"{file}: a .npz file needs one 1-D array per column, all of one "
                        f"length; got shapes { {k: v.shape for k, v in columns.items()} }")
    return pd.DataFrame(columns)


def _frame_columns(frame: pd.DataFrame, wanted: Sequence[str] | None,
                   source: Source) -> Columns:
    names = [str(c) for c in frame.columns]
    arrays = {name: frame.iloc[:, i].to_numpy() for i, name in enumerate(names)
              if wanted is None or name in wanted}
    return _checked(Columns(arrays, names, len(frame), source))


def require_columns(columns: Columns, names: Sequence[str], key: str) -> None:
    """Every name in ``names`` is a column of the table; ``key`` is the config key naming it."""
    for column in names:
        if column not in columns.names:
            role = "target column" if key == "data.targets" else f"column ({key})"
            raise DataError(f"{columns.source.name}: no {role} '{column}'; the columns are "
                            f"{columns.names}")


def _is_arrow(array: Any) -> bool:
    return type(array).__module__.startswith("pyarrow")


def to_float(array: Any, source: Source, column: str, start: int = 0) -> np.ndarray:
    """A column as float64; a non-number names its row and column (``start``: the 0-based
    table row of the column's first value, when it is a chunk of the table).

    Empty cells and the usual missing-value markers (``NA``, ``n/a``, ``null``, ``NaN``...)
    become NaN: missing values, handled by :mod:`seqlstm.data.series.missing`.
    """
    if _is_arrow(array):
        import pyarrow as pa

        if pa.types.is_integer(array.type) or pa.types.is_floating(array.type) or \
                pa.types.is_boolean(array.type) or pa.types.is_null(array.type):
            return array.cast(pa.float64()).to_numpy(zero_copy_only=False)
        array = array.to_numpy(zero_copy_only=False)
    if array.dtype.kind in "biuf":
        return array.astype(np.float64)
    raw = pd.Series(array)
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{source.name}: {source.row(start + first + 1)}, column '{column}': "
                        f"{raw.iloc[first]!r} is not a number")
    return values.to_numpy(dtype=np.float64)


def to_time(array: Any, source: Source, column: str, time_format: str | None,
            start: int = 0) -> np.ndarray:
    """A time column as numbers or ``datetime64[ns]`` (parsed with ``time_format``, or when
    not numeric); a value that is not a time names its row (``start`` as in :func:`to_float`)."""
    if _is_arrow(array):
        import pyarrow as pa

        if time_format is None and (pa.types.is_timestamp(array.type)
                                    or pa.types.is_date(array.type)):
            array = array.cast(pa.timestamp("ns"))
        elif time_format is not None and not pa.types.is_string(array.type):
            array = array.cast(pa.string())
        array = array.to_numpy(zero_copy_only=False)
    if array.dtype.kind == "M":
        parsed = array.astype("datetime64[ns]")
        missing = np.isnat(parsed)
    elif time_format is None and array.dtype.kind in "iuf":
        parsed, missing = array, np.isnan(array) if array.dtype.kind == "f" else None
    else:
        raw = pd.Series(array)
        numbers = pd.to_numeric(raw, errors="coerce") if time_format is None else None
        if numbers is not None and numbers.notna().all():
            return numbers.to_numpy()
        dates = pd.to_datetime(raw.astype(str), format=time_format, errors="coerce")
        parsed, missing = dates.to_numpy(dtype="datetime64[ns]"), dates.isna().to_numpy()
    if missing is not None and missing.any():
        first = int(np.flatnonzero(missing)[0])
        expected = f"format {time_format!r}" if time_format else "a number or a date"
        raise DataError(f"{source.name}: {source.row(start + first + 1)}, column '{column}': "
                        f"{_raw(array, first)!r} is not a time ({expected})")
    return parsed


def _raw(array: np.ndarray, i: int) -> Any:
    value = array[i]
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def to_codes(array: Any, source: Source, column: str, what: str = "the series id",
             start: int = 0) -> tuple[np.ndarray, list[str]]:
    """Factorise a text column (series ids, categories) once: ``(codes (N,), names)`` with the
    names in order of first appearance; an empty value (``what``) names its row. Arrow columns
    are dictionary-encoded (Parquet ids are read that way, never as one string per row);
    ``start`` as in :func:`to_float`."""
    if not _is_arrow(array):
        codes, names = pd.factorize(pd.Series(array).astype(str).where(pd.notna(array)),
                                    use_na_sentinel=True)
        _check_ids(codes < 0, source, column, what, start)
        return codes, [str(n) for n in names]
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array)
    array = pa.chunked_array(array).unify_dictionaries()
    dictionary = array.chunk(0).dictionary if array.num_chunks else pa.array([], pa.string())
    if array.null_count:
        _check_ids(array.is_null().to_numpy(zero_copy_only=False), source, column, what, start)
    codes = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in array.chunks])
    return first_appearance(codes, [str(n) for n in dictionary.to_pylist()])


def first_appearance(codes: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str]]:
    """``codes`` renumbered (and ``names`` reordered) by first appearance, unused names
    dropped: one pass over the runs of equal codes."""
    runs = np.concatenate([[0], np.flatnonzero(codes[1:] != codes[:-1]) + 1])
    first = np.full(len(names), len(codes))
    np.minimum.at(first, codes[runs], runs)
    order = np.argsort(first, kind="stable")[: int((first < len(codes)).sum())]
    if np.array_equal(order, np.arange(len(names))):
        return codes, names
    renumber = np.zeros(len(names), dtype=codes.dtype)
    renumber[order] = np.arange(len(order), dtype=codes.dtype)
    return renumber[codes], [names[i] for i in order]


def _check_ids(empty: np.ndarray, source: Source, column: str, what: str, start: int) -> None:
    if empty.any():
        first = int(np.flatnonzero(empty)[0])
        raise DataError(f"{source.name}: {source.row(start + first + 1)}, column '{column}': "
                        f"{what} is empty")


def show_time(value: object) -> str:
    """A time as written in messages: dates without a midnight clock time."""
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return value.date().isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    return str(value)
