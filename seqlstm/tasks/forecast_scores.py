"""A forecaster's metrics per window, for scoring many groups of windows at once (the folds and
the (fold, series) pairs of a backtest) without one metric object per group.

Every metric of :meth:`~seqlstm.tasks.forecaster.Forecaster.build_metrics` is a ratio of two
sums over the forecast steps (RMSE the square root of one): :func:`window_sums` gives each
window's two sums, and :func:`ratios` divides them after summing over any grouping of the
windows, so a group's score equals what the torchmetrics objects report when updated with that
group's windows (tests/test_forecast_scores.py checks it). Sums are in float64.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

#: torchmetrics' ``SymmetricMeanAbsolutePercentageError`` clamps ``|y| + |y_hat|`` here
SMAPE_EPS = 1.17e-06


def window_sums(point: torch.Tensor, truth: torch.Tensor, naive: torch.Tensor | None = None,
                quantiles: torch.Tensor | None = None, levels: Sequence[float] = (),
                samples: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """``{metric: (B, 2)}`` numerator and denominator per window of ``point``, ``truth`` and
    ``naive`` (the seasonal naive forecast; gives MASE) ``(B, H, n)``; ``quantiles``
    ``(2 + Q, B, H, n)``, the interval's bounds then the quantiles at ``levels`` (give
    coverage, width and the weighted quantile loss); ``samples`` ``(S, B, H, n)`` draws (give
    CRPS). All in original units."""
    p, t = point.double().flatten(1), truth.double().flatten(1)  # (B, N)
    error = (p - t).abs()
    count = torch.full_like(error[:, 0], error.size(1))
    sums = {"mae": (error.sum(1), count), "rmse": (error.square().sum(1), count),
            "smape": ((2 * error / (t.abs() + p.abs()).clamp_min(SMAPE_EPS)).sum(1), count)}
    if naive is not None:
        sums["mase"] = (error.sum(1), (naive.double().flatten(1) - t).abs().sum(1))
    if quantiles is not None:
        q = quantiles.double().flatten(2)  # (2 + Q, B, N)
        sums["coverage"] = (((t >= q[0]) & (t <= q[1])).sum(1).double(), count)
        sums["width"] = ((q[1] - q[0]).sum(1), count)
        tau = torch.tensor(levels, dtype=torch.float64, device=q.device).view(-1, 1, 1)
        below = t - q[2:]  # (Q, B, N)
        pinball = torch.maximum(tau * below, (tau - 1) * below).sum(dim=(0, 2))
        sums["wql"] = (2 * pinball / len(levels), t.abs().sum(1))
    if samples is not None:
        sums["crps"] = (crps(samples.double().flatten(2), t).sum(1), count)
    return {name: torch.stack(pair, dim=-1) for name, pair in sums.items()}


def crps(samples: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """``(...)`` the CRPS of each value of ``truth`` ``(...)`` under its draws ``samples``
    ``(S, ...)``: ``E|X - y| - E|X - X'| / 2`` over the draws, as torchmetrics'
    ``ContinuousRankedProbabilityScore`` scores one value, with the pairwise term from the
    sorted draws (``sum_ij |x_i - x_j| = 2 sum_i (2i - S - 1) x_(i)``) in O(S log S)."""
    size = samples.size(0)
    spread = (samples - truth).abs().mean(dim=0)
    ranks = torch.arange(1, size + 1, dtype=samples.dtype, device=samples.device)
    weights = (2 * ranks - size - 1).view(-1, *([1] * truth.dim()))
    pairs = (weights * samples.sort(dim=0).values).sum(dim=0) / size**2
    return spread - pairs


def ratios(sums: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each metric from its summed ``(..., 2)`` numerator and denominator (``...``: the
    groups)."""
    tiny = torch.finfo(torch.float64).tiny
    scores = {name: pair[..., 0] / pair[..., 1].clamp_min(tiny) for name, pair in sums.items()}
    if "rmse" in scores:
        scores["rmse"] = scores["rmse"].sqrt()
    return scores
