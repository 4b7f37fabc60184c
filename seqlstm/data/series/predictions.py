"""Forecasting from the end of every series at once, and the forecasts as a table.

:func:`origin_windows` cuts each series of a store at its forecast origin (the last observed
target, less ``holdout`` steps) with array arithmetic over all series; :func:`forecast_table`
lays the forecaster's outputs out as one row per series and horizon step, in original units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from seqlstm.data.series.missing import fill_missing
from seqlstm.data.series.reading import TableSchema
from seqlstm.data.series.store import SeriesStore
from seqlstm.errors import DataError


@dataclass
class Forecast:
    """What a plot needs to know about one series beyond the tensors."""

    name: str
    history: pd.DataFrame  # time and target columns, original units
    times: list[Any]  # the horizon's time stamps
    truth: np.ndarray  # (H, n_targets), NaN where unknown


@dataclass
class Forecasts:
    """The forecast origins of every series: ``history`` (a store of each series up to its
    origin, missing values handled), the horizon's ``times`` ``(S, H)`` and ``truth``
    ``(S, H, n_targets)`` (NaN where unknown). ``forecasts[i]`` is series ``i``'s
    :class:`Forecast`."""

    history: SeriesStore
    times: np.ndarray
    truth: np.ndarray
    schema: TableSchema

    def __len__(self) -> int:
        return self.history.num_series

    def __getitem__(self, i: int) -> Forecast:
        rows = slice(self.history.offsets[i], self.history.offsets[i + 1])
        n = len(self.schema.targets)
        frame = pd.DataFrame({self.schema.time_name: self.history.time[rows],
                              **dict(zip(self.schema.targets, self.history.values[rows, :n].T,
                                         strict=True))})
        times = self.times[i]
        return Forecast(self.history.names[i], frame,
                        list(pd.to_datetime(times)) if times.dtype.kind == "M" else times.tolist(),
                        self.truth[i])


def _gather(array: np.ndarray, index: np.ndarray, valid: np.ndarray, fill: Any) -> np.ndarray:
    """``array[index]`` where ``valid``, else ``fill`` (``array`` may be empty)."""
    if len(array) == 0:
        return np.full(index.shape + array.shape[1:], fill, dtype=array.dtype)
    taken = array[index.clip(0, len(array) - 1)]
    mask = valid.reshape(valid.shape + (1,) * (taken.ndim - valid.ndim))
    return np.where(mask, taken, np.asarray(fill, dtype=array.dtype))


def origin_windows(store: SeriesStore, schema: TableSchema, missing: str, lookback: int,
                   horizon: int, holdout: int) -> tuple[np.ndarray, Forecasts]:
    """One window per series ``(S, lookback + horizon, C)`` in original units: the last
    ``lookback`` rows of its history (missing values handled), then the rows after the origin,
    which must carry the known-future covariates of the ``horizon`` steps (NaN beyond them)."""
    n, source = len(schema.targets), store.source
    position = store.positions()
    observed = ~np.isnan(store.values[:, :n]).any(axis=1)
    origin = np.maximum.reduceat(np.where(observed, position + 1, 0), store.offsets[:-1]) \
        - holdout
    in_history = position < np.repeat(origin, store.lengths)
    history = fill_missing(store.select(in_history), schema.columns, missing, schema.time_name)
    ahead = store.select(~in_history)
    kept = np.minimum(origin, history.lengths)  # rows left after data.missing=drop
    if (kept < lookback).any():
        i = int(np.flatnonzero(kept < lookback)[0])
        raise DataError(f"{source.name}: series '{store.names[i]}' has {max(int(kept[i]), 0)} "
                        f"observed rows before the forecast origin, fewer than data.lookback = "
                        f"{lookback}" + (f" (after data.holdout = {holdout})" if holdout else ""))
    steps = np.arange(horizon)
    ahead_rows = ahead.offsets[:-1, None] + steps  # (S, H)
    known = steps < ahead.lengths[:, None]
    after = _gather(ahead.values, ahead_rows, known, np.nan)  # (S, H, C)
    if schema.future:
        lacking = (~known | np.isnan(after[..., n + len(schema.past):]).any(axis=-1)).any(axis=1)
        if lacking.any():
            name = store.names[int(np.flatnonzero(lacking)[0])]
            raise DataError(f"{source.name}: series '{name}' needs the known-future "
                            f"covariates {schema.future} of the {horizon} steps after its last "
                            f"observed target; give {horizon} rows after it with those columns "
                            "filled")
    before = history.values[history.offsets[1:, None] - lookback + np.arange(lookback)]
    window = np.concatenate([before, after], axis=1)  # (S, L + H, C)
    return window, Forecasts(history, horizon_times(history, ahead, horizon),
                             after[..., :n], schema)


def horizon_times(history: SeriesStore, ahead: SeriesStore, horizon: int) -> np.ndarray:
    """``(S, H)`` the time stamps of the ``horizon`` steps after each origin: those of the rows
    after it, then continued with the last step between two rows (of history and ahead)."""
    before, count = history.lengths[:, None], (history.lengths + ahead.lengths)[:, None]

    def at(k: np.ndarray) -> np.ndarray:  # (S, K) times at positions k of history + ahead
        early = _gather(history.time, history.offsets[:-1, None] + k, k < before,
                        history.time[0])
        late = _gather(ahead.time, ahead.offsets[:-1, None] + k - before, k >= before,
                       history.time[0])
        return np.where(k < before, early, late)

    final = at(count - 1)  # (S, 1)
    step = final - at(np.maximum(count - 2, 0))
    if step.dtype.kind != "m":  # numbers: one step when a series has a single row
        step = np.where(count > 1, step, 1)
    k = before + np.arange(horizon)  # (S, H) positions of the horizon steps
    return np.where(k < count, at(np.minimum(k, count - 1)), final + step * (k - count + 1))


def forecast_table(outputs: list[dict[str, torch.Tensor]], forecasts: Forecasts,
                   targets: Sequence[str], time: str, id_column: str,
                   horizon: int) -> pd.DataFrame:
    """A forecaster's ``predict_step`` outputs as one row per series and horizon step.

    Each output maps a name to ``(B, horizon, n_targets)`` values in original units: ``mean``
    becomes the column ``<target>``, any other name ``<target>_<name>`` (e.g. ``_lower``/
    ``_upper`` interval bounds, ``_q0.1`` quantiles); ``<target>_true`` holds the truth when
    known.
    """
    names = list(outputs[0])
    values = {name: torch.cat([o[name] for o in outputs]).cpu().numpy() for name in names}
    times = forecasts.times.reshape(-1)
    frame = pd.DataFrame({
        id_column: np.repeat(forecasts.history.names, horizon),
        time: list(pd.to_datetime(times)) if times.dtype.kind == "M" else times,
        "step": np.tile(np.arange(1, horizon + 1), len(forecasts)),
    })
    truth = forecasts.truth.reshape(-1, len(targets))  # (N * H, n_targets)
    for j, target in enumerate(targets):
        for name in names:
            column = target if name == "mean" else f"{target}_{name}"
            frame[column] = values[name][..., j].reshape(-1)  # (N, H) -> (N * H,)
        if not np.isnan(truth[:, j]).all():
            frame[f"{target}_true"] = truth[:, j]
    return frame
