"""Forecasts as a table: one row per series and horizon step, in original units."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from seqlstm.data.series.reading import Series, TableSchema, fill_series
from seqlstm.data.series.tables import Source
from seqlstm.errors import DataError


@dataclass
class Forecast:
    """What prediction needs to know about one series beyond the tensors."""

    name: str
    history: pd.DataFrame  # time and target columns, original units
    times: list[Any]  # the horizon's time stamps
    truth: np.ndarray  # (H, n_targets), NaN where unknown


def horizon_times(history: pd.Series, ahead: pd.Series, horizon: int) -> list[Any]:
    """The time stamps of the ``horizon`` steps after ``history``: those of the rows after the
    origin (``ahead``), then continued with the last step between two rows."""
    times = [*history, *ahead]
    step = times[-1] - times[-2] if len(times) > 1 else 1
    origin = len(history)
    while len(times) < origin + horizon:
        times.append(times[-1] + step)
    return times[origin : origin + horizon]


def forecast_table(outputs: list[dict[str, torch.Tensor]], forecasts: Sequence[Forecast],
                   targets: Sequence[str], time: str, id_column: str,
                   horizon: int) -> pd.DataFrame:
    """A forecaster's ``predict_step`` outputs as one row per series and horizon step.

    Each output maps a name to ``(B, horizon, n_targets)`` values in original units: ``mean``
    becomes the column ``<target>``, any other name ``<target>_<name>`` (e.g. ``_lower``/
    ``_upper`` interval bounds); ``<target>_true`` holds the truth when known.
    """
    names = list(outputs[0])
    values = {name: torch.cat([o[name] for o in outputs]).cpu().numpy() for name in names}
    frame = pd.DataFrame({
        id_column: np.repeat([f.name for f in forecasts], horizon),
        time: [t for f in forecasts for t in f.times],
        "step": np.tile(np.arange(1, horizon + 1), len(forecasts)),
    })
    truth = np.concatenate([f.truth for f in forecasts])  # (N * H, n_targets)
    for j, target in enumerate(targets):
        for name in names:
            column = target if name == "mean" else f"{target}_{name}"
            frame[column] = values[name][..., j].reshape(-1)  # (N, H) -> (N * H,)
        if not np.isnan(truth[:, j]).all():
            frame[f"{target}_true"] = truth[:, j]
    return frame


def split_at_origin(series: Series, source: Source, schema: TableSchema, missing: str,
                    lookback: int, horizon: int, holdout: int
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """History (up to the forecast origin: the last observed target, less ``holdout`` steps;
    missing values handled) and the rows after it, which must carry the known-future
    covariates of the ``horizon`` steps."""
    frame = series.frame
    observed = np.flatnonzero(frame[schema.targets].notna().all(axis=1).to_numpy())
    origin = (observed[-1] + 1 if len(observed) else 0) - holdout
    if origin < lookback:
        raise DataError(f"{source.name}: series '{series.name}' has {max(origin, 0)} observed "
                        f"rows before the forecast origin, fewer than data.lookback = "
                        f"{lookback}" + (f" (after data.holdout = {holdout})" if holdout else ""))
    history = fill_series(Series(series.name, frame.iloc[:origin]), source, schema, missing).frame
    ahead = frame.iloc[origin:].reset_index(drop=True)
    if schema.future:
        known = ahead[schema.future].iloc[:horizon]
        if len(known) < horizon or known.isna().any().any():
            raise DataError(f"{source.name}: series '{series.name}' needs the known-future "
                            f"covariates {schema.future} of the {horizon} steps after its last "
                            f"observed target; give {horizon} rows after it with those columns "
                            "filled")
    return history, ahead


def pad_rows(values: np.ndarray, rows: int) -> np.ndarray:
    """``values`` with NaN rows appended up to ``rows`` rows."""
    return np.pad(values, ((0, rows - len(values)), (0, 0)), constant_values=np.nan)
