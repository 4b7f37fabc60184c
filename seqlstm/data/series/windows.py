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

import torch
from torch.utils.data import Dataset

from seqlstm.spec import Layout, window_inputs

Batch = dict[str, torch.Tensor]


def naive_offsets(lookback: int, horizon: int, season: int) -> torch.Tensor:
    """Rows (within a window) of the seasonal naive forecast of each horizon step: the value one
    season earlier, or whole seasons earlier until it falls in the observed part."""
    steps = torch.arange(horizon)
    return lookback + steps - season * ((steps + season) // season)  # ceil((h + 1) / season)


class SeriesWindows(Dataset):
    """Windows starting at ``starts`` (rows of ``values``), each labelled with its ``series``.

    Batches are built by :meth:`__getitems__` with one fancy-indexing gather, not one Python call
    per window; use :func:`batch_collate` as the DataLoader's ``collate_fn``.
    """

    def __init__(self, values: torch.Tensor, starts: torch.Tensor, series: torch.Tensor,
                 layout: Layout, lookback: int, horizon: int, season: int) -> None:
        self.values, self.starts, self.series, self.layout = values, starts, series, layout
        self.lookback, self.horizon = lookback, horizon
        self.offsets = torch.arange(lookback + horizon)
        self.naive = naive_offsets(lookback, horizon, season)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitems__(self, indices: list[int]) -> Batch:
        index = torch.as_tensor(indices, dtype=torch.long)
        rows = self.starts[index, None] + self.offsets  # (B, L+H)
        window = self.values[rows]  # (B, L+H, C)
        lookback, observed = self.lookback, self.layout.observed
        return {
            "inputs": window_inputs(window, lookback, observed),
            "targets": window[:, lookback:, : self.layout.targets],  # (B, H, n_targets)
            "future": window[:, lookback:, observed:],  # (B, H, F_future)
            "naive": window[:, self.naive, : self.layout.targets],  # (B, H, n_targets)
            "series": self.series[index],  # (B,)
        }

    def __getitem__(self, index: int) -> Batch:
        return {key: value[0] for key, value in self.__getitems__([index]).items()}


def batch_collate(batch: Batch) -> Batch:
    """The DataLoader ``collate_fn`` for :class:`SeriesWindows`: batches arrive ready-made."""
    return batch
