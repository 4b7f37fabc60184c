"""Forecast metrics torchmetrics lacks: MASE against the seasonal naive forecast."""

from __future__ import annotations

import torch
from torchmetrics import Metric


class MeanAbsoluteScaledError(Metric):
    """MAE of the forecast divided by the MAE of the seasonal naive forecast on the same targets.

    Below 1 the model beats "the value one season ago"; above 1 it does worse. Both sums are
    accumulated over the epoch, so the ratio is of the whole split, not a mean of batch ratios.
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("model_error", default=torch.tensor(0.0, dtype=torch.float64),
                       dist_reduce_fx="sum")
        self.add_state("naive_error", default=torch.tensor(0.0, dtype=torch.float64),
                       dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor, naive: torch.Tensor) -> None:
        """``preds``, ``target`` and ``naive`` (the seasonal naive forecast) share one shape."""
        self.model_error += (preds - target).abs().sum(dtype=torch.float64)
        self.naive_error += (naive - target).abs().sum(dtype=torch.float64)

    def compute(self) -> torch.Tensor:
        return (self.model_error / self.naive_error.clamp_min(torch.finfo(torch.float64).tiny)
                ).float()
