"""Rolling-origin backtests: the windows of every fold of every series, as one dataset.

Fold ``k`` (from 0) of a series forecasts from origin ``test_start + lookback + k * step``: the
first fold is the first window of the test split (what ``seqlstm-eval`` scores first), and each
later fold moves the origin ``step`` rows on, its history reaching back as far as ``lookback``
needs. All ``S x K`` windows are addressed by index arithmetic (window ``i``: series
``i // K``, fold ``i % K``), so a backtest is one pass of batched forecasts, not a loop over
origins::

    series rows   [ train ............ | val ..... | test ........................ ]
    fold 0                                  [ lookback ][ h ]
    fold 1                                     step >[ lookback ][ h ]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from seqlstm.data.series.windows import SeriesWindows
from seqlstm.errors import DataError

if TYPE_CHECKING:
    from seqlstm.data.series.module import TimeSeriesDataModule


@dataclass
class Backtest:
    """The windows of a backtest and where their origins lie."""

    windows: SeriesWindows  # S * K windows, series-major
    folds: int
    names: list[str]  # (S,) series ids
    origins: np.ndarray  # (S, K) rows (within each series) of the first forecast step
    times: np.ndarray  # (S, K) their time stamps

    def fold_of(self, index: torch.Tensor) -> torch.Tensor:
        """The fold of each window ``index``."""
        return index % self.folds


def backtest_windows(data: TimeSeriesDataModule, folds: int, step: int) -> Backtest:
    """``folds`` rolling origins ``step`` rows apart in the test split of every series of
    ``data`` (set up for fitting or testing)."""
    store, cuts = data.store, data.cuts
    window = data.lookback + data.horizon
    start, end = cuts[:, 2], cuts[:, 3]
    room = np.where(end - start >= window, (end - start - window) // step + 1, 0)
    if (room < folds).any():
        i = int(np.flatnonzero(room < folds)[0])
        raise DataError(f"{store.source.name}: the test split of series '{store.names[i]}' "
                        f"has {end[i] - start[i]} rows, room for {room[i]} fold(s) of "
                        f"data.lookback + data.horizon = {window} rows {step} apart, not "
                        f"folds={folds}; use fewer folds, a smaller step or a larger test "
                        "fraction in data.split")
    owners = data.scaler.rows(store.names)
    windows = data._windows(torch.from_numpy(store.values), store.offsets[:-1] + start,
                            np.full(store.num_series, folds), owners, stride=step,
                            statics=data.static_inputs(store))
    origins = start[:, None] + data.lookback + step * np.arange(folds)  # (S, K)
    return Backtest(windows, folds, store.names, origins,
                    store.time[store.offsets[:-1, None] + origins])
