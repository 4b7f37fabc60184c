"""Probabilistic forecasts of the :class:`~seqlstm.tasks.forecaster.Forecaster`: sample paths,
quantiles in original units, and the metrics that score them.

Quantiles come in closed form where there is one (Gaussian, the quantile head), else from
``num_samples`` draws; with the autoregressive strategy the draws are ancestral sample paths:
each decoding step is fed back its own draw, ``num_samples`` paths decoded side by side in one
batch, so the paths carry the dependence between steps that per-step quantiles lack.
"""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics import Metric
from torchmetrics.regression import ContinuousRankedProbabilityScore

from seqlstm.tasks.distributions import sample_quantiles
from seqlstm.tasks.forecast_metrics import (
    IntervalCoverage,
    IntervalWidth,
    WeightedQuantileLoss,
)

Batch = dict[str, torch.Tensor]
#: the levels of the weighted quantile loss when neither the loss nor ``quantiles`` name any
WQL_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
#: the batch keys a sample path repeats
PATH_KEYS = ("inputs", "future", "series", "static_categorical", "static_real")


class SampledForecasts:
    """The probabilistic half of a forecaster (a mixin: it reads the forecaster's ``dist``,
    ``strategy``, ``interval``, ``quantiles``, ``num_samples`` and its decoding, window
    transform and scaling methods)."""

    dist: Any
    strategy: str
    interval: float
    quantiles: tuple[float, ...]
    num_samples: int

    @property
    def interval_levels(self) -> tuple[float, float]:
        """The quantile levels of the prediction interval: the central ``interval``, or for
        the quantile loss its lowest and highest levels."""
        if self.dist.loss_name == "quantile":
            return self.dist.levels[0], self.dist.levels[-1]
        return 0.5 - self.interval / 2, 0.5 + self.interval / 2

    def fan_levels(self) -> list[tuple[float, float]]:
        """Pairs ``(q, 1 - q)`` among ``quantiles``, other than the interval's: the fan."""
        interval = tuple(round(q, 9) for q in self.interval_levels)
        pairs = [(q, round(1 - q, 9)) for q in self.quantiles if q < 0.5]
        return [(lo, hi) for lo, hi in pairs if hi in self.quantiles and (lo, hi) != interval]

    @property
    def draws(self) -> bool:
        """Whether the loss is a distribution one can draw from (not the quantile head)."""
        return self.dist.probabilistic and self.dist.loss_name != "quantile"

    def sample_paths(self, batch: Batch, num: int) -> torch.Tensor:
        """``(num, B, H, n)`` autoregressive sample paths in original units."""
        size = batch["inputs"].size(0)
        rows = {key: value.repeat_interleave(num, dim=0) for key, value in batch.items()
                if key in PATH_KEYS}  # row b * num + j: path j of b
        prepared, transform = self.prepare(rows)
        mean, std = self.target_scale(rows["series"], rows["inputs"])

        def draw(step: torch.Tensor) -> torch.Tensor:  # one standardised draw per path
            if self.dist.counts:
                return (self.dist.sample(step, mean, std, 1)[0] - mean) / std
            return self.dist.sample(step, torch.zeros_like(mean), torch.ones_like(std), 1)[0]

        paths = self.recursive(prepared, draw)  # (B * num, H, n) as the network reads them
        if transform is not None:
            paths = transform.values_out(paths)
        values = self.original_units(paths, rows["series"])
        return values.view(size, num, *values.shape[1:]).transpose(0, 1)

    def forecast_quantiles(self, batch: Batch, outputs: torch.Tensor, levels: list[float]
                           ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(Q, B, H, n)`` quantiles at ``levels`` in original units, and the draws they came
        from (``(S, B, H, n)``; None for a closed form)."""
        series = batch["series"]
        if self.draws and self.strategy == "autoregressive":
            samples = self.sample_paths(batch, self.num_samples)
        elif self.dist.loss_name in ("gaussian_nll", "quantile"):
            closed = self.dist.quantiles(outputs, levels, *self.target_scale(series, outputs),
                                         self.num_samples)
            return self.untransformed(closed), None
        else:
            samples = self.drawn(outputs, series)
        return sample_quantiles(samples, levels, self.dist.counts), samples

    def drawn(self, outputs: torch.Tensor, series: torch.Tensor) -> torch.Tensor:
        """``(S, B, H, n)`` ``num_samples`` draws of each step's distribution, in original
        units."""
        return self.untransformed(self.dist.sample(outputs, *self.target_scale(series, outputs),
                                                   self.num_samples))

    def wql_levels(self) -> tuple[float, ...]:
        if self.dist.loss_name == "quantile":
            return self.dist.levels
        return self.quantiles or WQL_LEVELS

    def probabilistic_metrics(self) -> dict[str, Metric]:
        """Validation and test metrics of a probabilistic loss: coverage and width of the
        interval, weighted quantile loss, and CRPS (from draws) for distributions."""
        if not self.dist.probabilistic:
            return {}
        metrics: dict[str, Metric] = {"coverage": IntervalCoverage(), "width": IntervalWidth(),
                                      "wql": WeightedQuantileLoss(self.wql_levels())}
        if self.draws:
            metrics["crps"] = ContinuousRankedProbabilityScore()
        return metrics

    def scored_quantiles(self, batch: Batch, outputs: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What the metrics of :meth:`probabilistic_metrics` score, in original units: the
        interval's bounds then the quantiles at :meth:`wql_levels` ``(2 + Q, B, H, n)``, and
        the draws CRPS scores (``(S, B, H, n)``; None for the quantile head)."""
        levels = [*self.interval_levels, *self.wql_levels()]
        values, samples = self.forecast_quantiles(batch, outputs, levels)
        if self.draws and samples is None:
            samples = self.drawn(outputs, batch["series"])
        return values, samples

    def update_probabilistic(self, metrics: Any, outputs: torch.Tensor, batch: Batch,
                             targets: torch.Tensor) -> None:
        """Update the metrics of :meth:`probabilistic_metrics` with one batch (``targets`` in
        original units)."""
        values, samples = self.scored_quantiles(batch, outputs)
        metrics["coverage"].update(values[0], values[1], targets)
        metrics["width"].update(values[0], values[1])
        metrics["wql"].update(values[2:], targets)
        if "crps" in metrics:
            metrics["crps"].update(samples.flatten(1).T, targets.flatten())  # (N, S), (N,)
