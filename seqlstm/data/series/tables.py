"""Reading tables of time series (CSV, Parquet, NumPy, pandas) and checking them row by row.

Every check names the source (file), the series, the row (and, for CSV, the line) and the column,
so a bad value can be found with a text editor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seqlstm.errors import DataError

MISSING_POLICIES = ("error", "ffill", "interpolate", "drop")
#: the series id given to the rows of a table without an id column
SINGLE_SERIES = "0"
ROW = "__row__"  # the 1-based data row of each record, kept for error messages


@dataclass(frozen=True)
class Source:
    """Where a table came from, for error messages: a file (``.csv`` has lines) or a DataFrame."""

    name: str
    is_csv: bool = False

    def row(self, row: int) -> str:
        return f"row {row} (line {row + 1})" if self.is_csv else f"row {row}"


def read_table(path: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, Source]:
    """The table at ``path`` (or the DataFrame itself) with a ``__row__`` column added.

    ``.npy``: a 1-D or 2-D array, columns named ``"0"``, ``"1"``...; ``.npz``: one 1-D array per
    column, named by its key.
    """
    if isinstance(path, pd.DataFrame):
        frame, source = path.copy(), Source("<DataFrame>")
    else:
        file = Path(path)
        if not file.is_file():
            raise DataError(f"data.path: no such file: {file}")
        source = Source(str(file), is_csv=file.suffix.lower() == ".csv")
        frame = _read_file(file)
    frame.columns = [str(c) for c in frame.columns]
    if frame.empty:
        raise DataError(f"{source.name}: the table has no rows")
    frame[ROW] = np.arange(1, len(frame) + 1)
    return frame.reset_index(drop=True), source


def _read_file(file: Path) -> pd.DataFrame:
    suffix = file.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(file, dtype=str, keep_default_na=True)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(file)
        if suffix == ".npy":
            array = np.load(file, allow_pickle=False)
            if array.ndim not in (1, 2):
                raise DataError(f"{file}: a .npy array must be 1-D or 2-D (time, columns), "
                                f"got shape {array.shape}")
            return pd.DataFrame(array.reshape(len(array), -1))
        if suffix == ".npz":
            with np.load(file, allow_pickle=False) as arrays:
                columns = {key: arrays[key] for key in arrays.files}
            bad = {k: v.shape for k, v in columns.items() if v.ndim != 1}
            if bad or len({len(v) for v in columns.values()}) > 1:
                raise DataError(f"{file}: a .npz file needs one 1-D array per column, all of one "
                                f"length; got shapes { {k: v.shape for k, v in columns.items()} }")
            return pd.DataFrame(columns)
    except (ValueError, OSError, pd.errors.ParserError) as err:
        if isinstance(err, DataError):
            raise
        detail = " ".join(str(err).split()) or type(err).__name__
        raise DataError(f"{file}: not a readable {suffix} table ({detail})") from None
    raise DataError(f"{file}: unknown table format '{suffix}'; expected .csv, .parquet, .npy "
                    "or .npz")


def require_columns(frame: pd.DataFrame, source: Source, columns: Sequence[str],
                    key: str) -> None:
    """Every name in ``columns`` is a column of ``frame``; ``key`` is the config key naming it."""
    present = [c for c in frame.columns if c != ROW]
    for column in columns:
        if column not in present:
            role = "target column" if key == "data.targets" else f"column ({key})"
            raise DataError(f"{source.name}: no {role} '{column}'; the columns are {present}")


def to_numeric(frame: pd.DataFrame, source: Source, columns: Sequence[str]) -> None:
    """Convert ``columns`` to float64 in place; a non-number names its row and column.

    Empty cells and pandas' missing-value markers (``NA``, ``n/a``, ``null``, ``NaN``...)
    become NaN: missing values, handled by :func:`fill_missing`.
    """
    for column in columns:
        raw = frame[column]
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
        if bad.any():
            first = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{source.name}: {source.row(int(frame[ROW].iloc[first]))}, column "
                            f"'{column}': {raw.iloc[first]!r} is not a number")
        frame[column] = values.astype("float64")


def parse_time(frame: pd.DataFrame, source: Source, column: str, time_format: str | None) -> None:
    """Make ``column`` numbers or datetimes (with ``time_format``, or when not numeric)."""
    raw = frame[column]
    if time_format is None:
        numbers = pd.to_numeric(raw, errors="coerce")
        if numbers.notna().all():
            frame[column] = numbers
            return
    parsed = pd.to_datetime(raw.astype(str), format=time_format, errors="coerce")
    if parsed.isna().any():
        first = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        expected = f"format {time_format!r}" if time_format else "a number or a date"
        raise DataError(f"{source.name}: {source.row(int(frame[ROW].iloc[first]))}, column "
                        f"'{column}': {raw.iloc[first]!r} is not a time ({expected})")
    frame[column] = parsed


def show_time(value: object) -> str:
    """A time as written in messages: dates without a midnight clock time."""
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return value.date().isoformat()
    return str(value)


def check_sorted(times: pd.Series, rows: pd.Series, source: Source, series: str,
                 column: str) -> None:
    """Times of one series must strictly increase in file order."""
    values = times.to_numpy()
    if len(values) < 2:
        return
    order = values[1:] > values[:-1]
    if order.all():
        return
    i = int(np.flatnonzero(~order)[0]) + 1
    what = "repeats" if values[i] == values[i - 1] else "is earlier than"
    advice = ("each time may appear once per series" if what == "repeats"
              else "sort the rows by time")
    raise DataError(f"{source.name}: series '{series}', {source.row(int(rows.iloc[i]))}: "
                    f"{column} {show_time(times.iloc[i])} {what} the previous row's "
                    f"{show_time(times.iloc[i - 1])}; {advice}")


def fill_missing(frame: pd.DataFrame, source: Source, series: str, columns: Sequence[str],
                 policy: str, time_column: str) -> pd.DataFrame:
    """Apply the missing-value ``policy`` to ``columns`` of one series (rows in time order).

    ``error`` refuses any missing value; ``ffill`` carries the last value forward; ``interpolate``
    draws a straight line between neighbours (by position); ``drop`` removes the row. A value that
    cannot be filled (a leading gap for ``ffill``, an edge gap for ``interpolate``) is an error.
    """
    columns = list(columns)
    if policy == "drop":
        return frame.dropna(subset=columns)
    if policy == "ffill":
        frame[columns] = frame[columns].ffill()
    elif policy == "interpolate":
        frame[columns] = frame[columns].interpolate(method="linear", limit_area="inside")
    missing = frame[columns].isna().to_numpy()
    if missing.any():
        i, j = (int(k[0]) for k in np.nonzero(missing))
        when = f"{time_column} {show_time(frame[time_column].iloc[i])}"
        row = source.row(int(frame[ROW].iloc[i]))
        if policy == "error":
            advice = "set data.missing to ffill, interpolate or drop to handle it"
        else:
            advice = f"data.missing={policy} cannot fill a gap at the edge of a series"
        raise DataError(f"{source.name}: series '{series}', {row}, {when}: column "
                        f"'{columns[j]}' is missing; {advice}")
    return frame
