"""Per-window metric sums: grouped, they score as the forecaster's torchmetrics objects do."""

from __future__ import annotations

import pytest
import torch
from torchmetrics.regression import (
    ContinuousRankedProbabilityScore,
    MeanAbsoluteError,
    MeanSquaredError,
    SymmetricMeanAbsolutePercentageError,
)

from seqlstm.tasks.forecast_metrics import (
    IntervalCoverage,
    IntervalWidth,
    MeanAbsoluteScaledError,
    WeightedQuantileLoss,
)
from seqlstm.tasks.forecast_scores import crps, ratios, window_sums


def test_grouped_sums_score_as_the_metric_objects_of_each_group():
    torch.manual_seed(0)
    point, truth, naive = (torch.randn(6, 4, 2) * 3 + 10 for _ in range(3))
    levels = (0.1, 0.5, 0.9)
    middle = torch.randn(6, 4, 2) + 10
    quantiles = torch.stack([middle - 2, middle + 2, middle - 1.5, middle, middle + 1.5])
    samples = torch.randn(50, 6, 4, 2) + 10
    sums = window_sums(point, truth, naive, quantiles, levels, samples)
    assert {name: tuple(pair.shape) for name, pair in sums.items()} == dict.fromkeys(
        ("mae", "rmse", "smape", "mase", "coverage", "width", "wql", "crps"), (6, 2))
    groups = torch.tensor([0, 1, 0, 2, 1, 0])
    for g in range(3):
        mine = groups == g
        scores = ratios({name: pair[mine].sum(0) for name, pair in sums.items()})
        p, t, q = point[mine].flatten(), truth[mine].flatten(), quantiles[:, mine]
        expected = {"mae": MeanAbsoluteError()(p, t),
                    "rmse": MeanSquaredError(squared=False)(p, t),
                    "smape": SymmetricMeanAbsolutePercentageError()(p, t),
                    "mase": MeanAbsoluteScaledError()(p, t, naive[mine].flatten()),
                    "coverage": IntervalCoverage()(q[0], q[1], truth[mine]),
                    "width": IntervalWidth()(q[0], q[1]),
                    "wql": WeightedQuantileLoss(levels)(q[2:], truth[mine]),
                    "crps": ContinuousRankedProbabilityScore()(samples[:, mine].flatten(1).T,
                                                               t)}
        for name, value in expected.items():
            assert float(scores[name]) == pytest.approx(float(value), rel=1e-5), (g, name)


def test_crps_from_sorted_draws_equals_the_pairwise_definition():
    torch.manual_seed(1)
    samples, truth = torch.randn(7, 3, 5, dtype=torch.float64), torch.randn(3, 5,
                                                                          dtype=torch.float64)
    pairwise = (samples[:, None] - samples[None]).abs().mean(dim=(0, 1)) / 2
    expected = (samples - truth).abs().mean(dim=0) - pairwise
    assert torch.allclose(crps(samples, truth), expected, atol=1e-12)
