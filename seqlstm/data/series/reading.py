"""Reading a table of series: columns checked, times parsed and ordered, missing values handled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seqlstm.data.series.tables import (
    ROW,
    SINGLE_SERIES,
    Source,
    check_sorted,
    fill_missing,
    parse_time,
    read_table,
    require_columns,
    to_numeric,
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

    @classmethod
    def from_config(cls, targets: str | Sequence[str], past: Sequence[str],
                    future: Sequence[str], time_column: str | None = None,
                    id_column: str | None = None, time_format: str | None = None
                    ) -> TableSchema:
        """The schema of the data config's column names, checked: at least one target, every
        name used once."""
        schema = cls([str(targets)] if isinstance(targets, (str, int)) else
                     [str(t) for t in targets], [str(c) for c in past],
                     [str(c) for c in future], time_column, id_column, time_format)
        if not schema.targets:
            raise ConfigError("data.targets", "at least one column name", targets)
        if len(set(schema.columns)) != len(schema.columns):
            raise ConfigError("data.targets/past_covariates/future_covariates",
                              "distinct column names", schema.columns)
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


@dataclass
class Series:
    """One series' rows in time order: the time column, the value columns, the source rows."""

    name: str
    frame: pd.DataFrame


def read_series(path: str | Path | pd.DataFrame, schema: TableSchema
                ) -> tuple[list[Series], Source]:
    """The series of the table at ``path``, checked: columns present and numeric, times
    strictly increasing within each series. Missing values are not handled yet."""
    frame, source = read_table(path)
    require_columns(frame, source, schema.targets, "data.targets")
    require_columns(frame, source, schema.past, "data.past_covariates")
    require_columns(frame, source, schema.future, "data.future_covariates")
    for key in ("time_column", "id_column"):
        if getattr(schema, key) is not None:
            require_columns(frame, source, [getattr(schema, key)], f"data.{key}")
    to_numeric(frame, source, schema.columns)
    if schema.time_column is not None:
        parse_time(frame, source, schema.time_column, schema.time_format)
    if schema.id_column is None:
        groups = [(SINGLE_SERIES, frame)]
    else:
        ids = frame[schema.id_column].astype(str)
        groups = [(name, frame[ids == name]) for name in pd.unique(ids)]
    series = []
    for name, rows in groups:
        rows = rows.reset_index(drop=True)
        if schema.time_column is None:
            rows[TIME] = np.arange(len(rows))
        else:
            check_sorted(rows[schema.time_column], rows[ROW], source, name, schema.time_column)
        series.append(Series(name, rows[[schema.time_name, *schema.columns, ROW]]))
    return series, source


def fill_series(series: Series, source: Source, schema: TableSchema, missing: str) -> Series:
    """``series`` with the ``missing`` policy applied (see :func:`fill_missing`)."""
    frame = fill_missing(series.frame.copy(), source, series.name, schema.columns, missing,
                         schema.time_name)
    return Series(series.name, frame.reset_index(drop=True))
