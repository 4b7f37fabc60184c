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

from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

Batch = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Layout:
    """How many columns of each kind, in the order targets, past, future."""

    targets: int
    past: int
    future: int

    @property
    def observed(self) -> int:
        """Columns only known up to now: targets and past-observed covariates."""
        return self.targets + self.past

    @property
    def width(self) -> int:
        return self.targets + self.past + self.future


def window_inputs(window: torch.Tensor, lookback: int, observed: int) -> torch.Tensor:
    """The model inputs ``(B, lookback, C)`` of a window ``(B, >= lookback + 1, C)``: the
    observed columns of rows ``[0, lookback)`` and the known-future covariates of rows
    ``[1, lookback]`` (the input at step t carries the covariates of step t + 1)."""
    known_ahead = window[:, 1 : lookback + 1, observed:]  # (B, L, F_future)
    return torch.cat([window[:, :lookback, :observed], known_ahead], dim=-1)


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
