"""Reading a table of series into the columnar store: columns checked, times parsed, rows
grouped by series and checked in time order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from seqlstm.data.series.statics import read_statics
from seqlstm.data.series.store import (
    SeriesStore,
    cache_key,
    load_store,
    long_store,
    save_store,
    wide_store,
)
from seqlstm.data.series.streaming import CHUNK_ROWS, stream_store, streams
from seqlstm.data.series.tables import (
    Columns,
    Source,
    column_names,
    read_columns,
    readable,
    require_columns,
)
from seqlstm.errors import ConfigError

TIME = "time"  # the time column's name when the table has none (row position)


@dataclass(frozen=True)
class TableSchema:
    """Which columns of a table are what (the data config's names)."""

    targets: list[str]
    past: list[str]
    future: list[str]
    time_column: str | None = None
    id_column: str | None = None
    time_format: str | None = None
    static_categorical: tuple[str, ...] = ()
    static_real: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, targets: str | Sequence[str], past: Sequence[str],
                    future: Sequence[str], time_column: str | None = None,
                    id_column: str | None = None, time_format: str | None = None,
                    static_categorical: Sequence[str] = (), static_real: Sequence[str] = ()
                    ) -> TableSchema:
        """The schema of the data config's column names, checked: at least one target, every
        name used once."""
        schema = cls([str(targets)] if isinstance(targets, (str, int)) else
                     [str(t) for t in targets], [str(c) for c in past],
                     [str(c) for c in future], time_column, id_column, time_format,
                     tuple(str(c) for c in static_categorical),
                     tuple(str(c) for c in static_real))
        if not schema.targets:
            raise ConfigError("data.targets", "at least one column name", targets)
        names = [*schema.columns, *schema.static_categorical, *schema.static_real]
        if len(set(names)) != len(names):
            raise ConfigError("data.targets/past_covariates/future_covariates/static_*",
                              "distinct column names", names)
        return schema

    @property
    def columns(self) -> list[str]:
        """The value columns in model order: targets, past, then future covariates."""
        return [*self.targets, *self.past, *self.future]

    @property
    def time_name(self) -> str:
        return self.time_column or TIME

    @property
    def id_name(self) -> str:
        """The id column of prediction tables (``series`` when the table has none)."""
        return self.id_column or "series"


LAYOUTS = ("long", "wide")


def read_store(path: str | Path | pd.DataFrame, schema: TableSchema, layout: str = "long",
               cache_dir: str | Path | None = None, out_of_core: bool | str = "auto",
               chunk_rows: int = CHUNK_ROWS) -> SeriesStore:
    """The series of the table at ``path`` as a :class:`SeriesStore`, checked: columns present
    and numeric, times strictly increasing within each series. Missing values are not handled
    yet (see :func:`~seqlstm.data.series.missing.fill_missing`).

    ``layout="wide"``: one column per series (every column but the time column), of the one
    target ``schema.targets[0]``. With ``cache_dir``, the checked store of a file is kept there
    as ``.npy`` files and memory-mapped back on later reads of the same (unchanged) file.

    ``out_of_core``: stream the first read of a long CSV/Parquet table into the cache in chunks
    of ``chunk_rows`` rows (see :mod:`~seqlstm.data.series.streaming`): ``True``, ``False`` or
    ``"auto"`` (files of :data:`~seqlstm.data.series.streaming.AUTO_BYTES` or more, when there
    is a ``cache_dir``).
    """
    streamed = streams(path, layout, cache_dir, out_of_core)
    if cache_dir is None or isinstance(path, pd.DataFrame) or not Path(path).is_file():
        return _read(path, schema, layout)  # (no file: its error names data.path)
    folder = Path(cache_dir) / f"series-{cache_key(path, {**asdict(schema), 'layout': layout})}"
    if not (folder / "index.json").is_file():
        if streamed:
            _require_header(Path(path), schema)
            stream_store(Path(path), schema, folder, chunk_rows)
        else:
            save_store(_read(path, schema, layout), folder)
    return load_store(folder)


def _read(path: str | Path | pd.DataFrame, schema: TableSchema, layout: str) -> SeriesStore:
    time, ids = schema.time_column, schema.id_column
    if layout == "wide":
        columns = read_columns(path, None, text=[time] if time and schema.time_format else [])
        if time is not None:
            require_columns(columns, [time], "data.time_column")
        return wide_store(columns, time, schema.time_format)
    static = [*schema.static_categorical, *schema.static_real]
    wanted = [*schema.columns, *static, *(c for c in (time, ids) if c is not None)]
    text = [*([time] if time and schema.time_format else []), *schema.static_categorical]
    columns = read_columns(path, wanted, text=text, ids=ids)
    require_schema(columns, schema)
    store = long_store(columns, schema.columns, time, ids, schema.time_format)
    if static:
        store.statics = read_statics(columns, store, list(schema.static_categorical),
                                     list(schema.static_real))
    return store


def require_schema(columns: Columns, schema: TableSchema) -> None:
    """Every column ``schema`` names is in the long table, or one line names the one missing."""
    require_columns(columns, schema.targets, "data.targets")
    require_columns(columns, schema.past, "data.past_covariates")
    require_columns(columns, schema.future, "data.future_covariates")
    require_columns(columns, schema.static_categorical, "data.static_categorical")
    require_columns(columns, schema.static_real, "data.static_real")
    for key in ("time_column", "id_column"):
        if getattr(schema, key) is not None:
            require_columns(columns, [getattr(schema, key)], f"data.{key}")


def _require_header(file: Path, schema: TableSchema) -> None:
    """The columns check of :func:`require_schema` on the file's header alone."""
    with readable(file):
        names = column_names(file)
    require_schema(Columns({}, names, 0, Source(str(file), file.suffix.lower() == ".csv")),
                   schema)
