"""Sliding windows over stacked time series, gathered a whole batch at a time.

All series live in one ``(rows, columns)`` float tensor, columns ordered targets, past-observed
covariates, known-future covariates. A window is ``lookback + horizon`` consecutive rows of one
series, named by its first row::

    rows      t0 ... t0+L-1 | t0+L ... t0+L+H-1
    inputs    y, past       |                      (the L observed steps)
              future  (one step ahead: the input at step t carries the covariates of t+1)
    targets                 | y                    (the H steps to forecast)
    future                  | known covariates     (over the horizon)
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from seqlstm.spec import Layout, SeriesScaler, naive_offsets, window_inputs

Batch = dict[str, torch.Tensor]


class SeriesWindows(Dataset):
    """The windows of one split, addressed by index arithmetic: series ``k`` has ``counts[k]``
    windows, ``stride`` rows apart from row ``first[k]`` of ``values``, and standardises with
    scaler row ``owners[k]``. Window ``i`` is the ``(i - cum[k])``-th of the series ``k`` with
    ``cum[k] <= i < cum[k + 1]``: no array of every window's start is kept.

    ``values`` ``(rows, C)`` are in original units (float64, perhaps memory-mapped); each batch
    is standardised as it is gathered. Batches are built by :meth:`__getitems__` with one
    fancy-indexing gather, not one Python call per window; use :func:`batch_collate` as the
    DataLoader's ``collate_fn``. With ``statics`` (per series: category codes, standardised
    values), batches carry ``static_categorical`` ``(B, K_cat)`` and ``static_real``
    ``(B, K_real)``.
    """

    def __init__(self, values: torch.Tensor, first: np.ndarray, counts: np.ndarray,
                 owners: np.ndarray, scaler: SeriesScaler, layout: Layout, lookback: int,
                 horizon: int, season: int, stride: int = 1,
                 statics: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.values, self.layout, self.scaler = values, layout, scaler
        # (S, K_cat) codes and (S, K_real) standardised values of each series' static covariates
        self.statics = None if statics is None else \
            (torch.as_tensor(statics[0], dtype=torch.long), torch.as_tensor(statics[1]))
        self.first = torch.as_tensor(first, dtype=torch.long)  # (S,)
        self.owners = torch.as_tensor(owners, dtype=torch.long)  # (S,)
        self.cum = torch.as_tensor(np.concatenate([[0], np.cumsum(counts)]), dtype=torch.long)
        self.lookback, self.horizon, self.stride = lookback, horizon, stride
        self.offsets = torch.arange(lookback + horizon)
        self.naive = naive_offsets(lookback, horizon, season)

    def __len__(self) -> int:
        return int(self.cum[-1])

    def locate(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(starts, series)`` ``(B,)`` of windows ``index``: first rows and series slots."""
        series = torch.searchsorted(self.cum, index, right=True) - 1
        return self.first[series] + self.stride * (index - self.cum[series]), series

    @property
    def starts(self) -> torch.Tensor:
        """``(len,)`` every window's first row (made on demand; batches never need it)."""
        return self.locate(torch.arange(len(self)))[0]

    @property
    def series(self) -> torch.Tensor:
        """``(len,)`` every window's scaler row (made on demand)."""
        return self.owners[self.locate(torch.arange(len(self)))[1]]

    def __getitems__(self, indices: list[int]) -> Batch:
        starts, slots = self.locate(torch.as_tensor(indices, dtype=torch.long))
        series = self.owners[slots]  # (B,)
        rows = starts[:, None] + self.offsets  # (B, L+H)
        window = self.scaler.scale(self.values[rows], series).float()  # (B, L+H, C)
        lookback, observed = self.lookback, self.layout.observed
        static = {} if self.statics is None else {"static_categorical": self.statics[0][slots],
                                                  "static_real": self.statics[1][slots]}
        return {**static,
            "inputs": window_inputs(window, lookback, observed),
            "targets": window[:, lookback:, : self.layout.targets],  # (B, H, n_targets)
            "future": window[:, lookback:, observed:],  # (B, H, F_future)
            "naive": window[:, self.naive, : self.layout.targets],  # (B, H, n_targets)
            "series": series,  # (B,)
        }

    def __getitem__(self, index: int) -> Batch:
        return {key: value[0] for key, value in self.__getitems__([index]).items()}


def batch_collate(batch: Batch) -> Batch:
    """The DataLoader ``collate_fn`` for :class:`SeriesWindows`: batches arrive ready-made."""
    return batch
