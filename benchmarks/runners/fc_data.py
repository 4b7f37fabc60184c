"""The forecasting data file every forecasting runner reads (NumPy only).

``data.npz`` holds series already standardised with their training-split mean and deviation:
``values`` (all series concatenated), ``offsets`` (series i is ``values[offsets[i]:offsets[i+1]]``),
``train_end`` (per series: the first step after the training split), ``periods`` and
``origins`` ``(M, 2)``: the test forecasts to make, as (series, first forecast step).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: the quantile levels a probabilistic runner saves (``--quantiles``): 0.01, 0.02, ..., 0.99,
#: from which the driver computes the CRPS of every system alike
LEVELS = np.arange(1, 100) / 100
#: draws per forecast of the runners whose library forecasts by sampling
SAMPLES = 200


@dataclass
class ForecastData:
    values: np.ndarray
    offsets: np.ndarray
    train_end: np.ndarray
    periods: np.ndarray
    origins: np.ndarray
    lookback: int
    horizon: int

    @classmethod
    def load(cls, path: str) -> ForecastData:
        with np.load(path) as f:
            return cls(f["values"], f["offsets"], f["train_end"], f["periods"], f["origins"],
                       int(f["lookback"]), int(f["horizon"]))

    def save(self, path: str) -> None:
        np.savez(path, values=self.values, offsets=self.offsets, train_end=self.train_end,
                 periods=self.periods, origins=self.origins, lookback=self.lookback,
                 horizon=self.horizon)

    @property
    def n_series(self) -> int:
        return len(self.offsets) - 1

    def series(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i] : self.offsets[i + 1]]

    def train_starts(self) -> np.ndarray:
        """Positions in ``values`` of every training window's first input step: a window's
        inputs and targets lie inside its series' training split."""
        span = self.lookback + self.horizon
        return np.concatenate([self.offsets[i] + np.arange(self.train_end[i] - span + 1)
                               for i in range(self.n_series)])

    def origin_starts(self) -> np.ndarray:
        """Positions in ``values`` of every test forecast's first input step."""
        return self.offsets[self.origins[:, 0]] + self.origins[:, 1] - self.lookback

    def windows(self, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inputs ``(N, lookback)`` and targets ``(N, horizon)`` of the windows at ``starts``."""
        span = starts[:, None] + np.arange(self.lookback + self.horizon)
        block = self.values[span]
        return block[:, : self.lookback], block[:, self.lookback :]


def sample_quantiles(samples: np.ndarray) -> np.ndarray:
    """``(M, horizon, Q)`` quantiles at :data:`LEVELS` of draws ``(M, horizon, S)``."""
    return np.moveaxis(np.quantile(samples, LEVELS, axis=-1), 0, -1).astype(np.float32)
