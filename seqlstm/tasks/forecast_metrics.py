"""Forecast metrics torchmetrics lacks: MASE against the seasonal naive forecast, interval
coverage and width, and the weighted quantile loss (CRPS comes from torchmetrics)."""

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


class _SumRatio(Metric):
    """A ratio of two sums accumulated over the epoch (not a mean of batch ratios)."""

    is_differentiable = False
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("top", default=torch.tensor(0.0, dtype=torch.float64),
                       dist_reduce_fx="sum")
        self.add_state("bottom", default=torch.tensor(0.0, dtype=torch.float64),
                       dist_reduce_fx="sum")

    def compute(self) -> torch.Tensor:
        return (self.top / self.bottom.clamp_min(torch.finfo(torch.float64).tiny)).float()


class IntervalCoverage(_SumRatio):
    """The fraction of targets inside their prediction interval ``[lower, upper]`` (a
    well-calibrated 80% interval covers 0.8)."""

    higher_is_better = None

    def update(self, lower: torch.Tensor, upper: torch.Tensor, target: torch.Tensor) -> None:
        self.top += ((target >= lower) & (target <= upper)).sum(dtype=torch.float64)
        self.bottom += target.numel()


class IntervalWidth(_SumRatio):
    """The mean width ``upper - lower`` of the prediction intervals, in the targets' units."""

    higher_is_better = False

    def update(self, lower: torch.Tensor, upper: torch.Tensor) -> None:
        self.top += (upper - lower).sum(dtype=torch.float64)
        self.bottom += lower.numel()


class WeightedQuantileLoss(_SumRatio):
    """Mean over the quantile levels of ``2 * sum(pinball loss) / sum(|target|)`` (GluonTS'
    weighted quantile loss; with many levels it approaches the CRPS scaled by ``sum|y|``)."""

    higher_is_better = False

    def __init__(self, levels: tuple[float, ...], **kwargs) -> None:
        super().__init__(**kwargs)
        self.levels = tuple(levels)

    def update(self, quantiles: torch.Tensor, target: torch.Tensor) -> None:
        """``quantiles`` ``(Q, ...)`` at the levels, ``target`` ``(...)``."""
        tau = torch.tensor(self.levels, dtype=torch.float64, device=target.device)
        error = target.unsqueeze(0).double() - quantiles.double()  # (Q, ...)
        tau = tau.view(-1, *([1] * target.dim()))
        pinball = torch.maximum(tau * error, (tau - 1) * error)
        self.top += 2 * pinball.sum() / len(self.levels)
        self.bottom += target.abs().sum(dtype=torch.float64)
