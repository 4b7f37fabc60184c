"""What a :class:`~seqlstm.tasks.forecaster.Forecaster` batch holds, and batches made from
raw history: the optional keys filled in, and the per-series scaling of a forecast request."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from seqlstm.errors import DataError
from seqlstm.spec import SeriesScaler, window_inputs

Batch = dict[str, torch.Tensor]


class ForecastInputs:
    """Batch completion and history batches (a mixin: it reads the forecaster's ``spec``,
    ``scaler`` and ``num_future``)."""

    spec: Any
    scaler: SeriesScaler
    num_future: int

    def with_defaults(self, batch: Batch) -> Batch:
        """``batch`` with its optional keys filled in: no known-future covariates, and series 0
        (whose scaler is the identity when the spec carries none)."""
        inputs = batch["inputs"]
        size = inputs.size(0)
        return {"future": inputs.new_zeros(size, self.spec.horizon, 0),
                "series": torch.zeros(size, dtype=torch.long, device=inputs.device), **batch}

    def history_batch(self, history: torch.Tensor, series: torch.Tensor,
                      future: torch.Tensor | None = None) -> Batch:
        """A predict batch from ``history`` ``(B, T, C)`` in original units (every data column:
        targets, past, then future covariates, over the last ``T`` steps) of the scaler rows
        ``series`` ``(B,)``; ``future`` ``(B, horizon, F_future)`` are the known-future
        covariates over the horizon, needed exactly when the data has any."""
        if (future is None) != (self.num_future == 0):
            raise DataError(f"expected future covariates {self.spec.extra['future_covariates']} "
                            f"over the {self.spec.horizon}-step horizon" if future is None else
                            "the model has no future covariates; pass future=None")
        scaled = self.scaler.scale(history, series)  # (B, T, C)
        observed = scaled.size(-1) - self.num_future
        if future is None:
            return {"inputs": scaled, "series": series}
        if future.shape[1:] != (self.spec.horizon, self.num_future):
            raise DataError(f"expected future covariates of shape (horizon={self.spec.horizon}, "
                            f"{self.num_future}), got {tuple(future.shape[1:])}")
        ahead = self.scaler.scale(future, series, slice(observed, None))  # (B, H, F_future)
        # history and horizon as one window; the horizon's observed columns are unknown (zeros)
        window = torch.cat([scaled, nn.functional.pad(ahead, (observed, 0))], dim=1)
        return {"inputs": window_inputs(window, scaled.size(1), observed), "future": ahead,
                "series": series}
