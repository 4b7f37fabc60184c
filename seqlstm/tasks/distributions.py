"""What a forecaster's raw outputs per horizon step mean, by loss: a point forecast, the loss,
and (for probabilistic losses) a distribution to sample and take quantiles from.

Raw outputs ``(B, H, width)`` hold ``k`` blocks of ``n`` (one value per target each), the first
block the location (what ``relative`` shifts and what autoregressive decoding feeds back):

=====================  ======  ============================================================
loss                   blocks  meaning (``s``: softplus)
=====================  ======  ============================================================
``mse``, ``mae``       1       the forecast (standardised units)
``gaussian_nll``       2       mean, variance ``s(x) + 1e-6`` (standardised)
``student_t``          3       location, scale ``s(x) + 1e-3``, degrees of freedom ``2+s(x)``
``poisson``            1       rate ``s(x) * (1 + |mean|)`` in original units
``negative_binomial``  2       mean as for Poisson, dispersion ``s(x) + 1e-4``
``quantile``           Q       the lowest quantile, then increments ``s(x + c) * gap`` (never
                               cross): ``gap`` is the standard normal's between the two levels
=====================  ======  ============================================================

Count likelihoods work in original units (counts), scaled by each series' training mean as in
DeepAR; the others in the per-series standardised units the data module gives.

The quantile head's increments are scaled by the gaps between the standard normal quantiles of
its levels, and shifted by ``c = s^-1(QUANTILE_START)``: at zero outputs its quantiles are
spaced as a normal's with scale :data:`QUANTILE_START`, however many levels it has (unscaled and
unshifted, 99 levels started 68 deviations wide). It starts narrow because the pinball loss
narrows a band that is too wide slowly: with (almost) every target inside, each pushes the 0.9
quantile down with weight 0.1 only, where targets outside a band too narrow pull it out with
weight 0.9. A head that started wide (0.69 deviations) was still too wide when validation picked
its checkpoint, and over-covered.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from statistics import NormalDist

import torch
from torch import distributions as D
from torch import nn

from seqlstm.errors import ConfigError

LOSSES = ("mse", "mae", "gaussian_nll", "student_t", "negative_binomial", "poisson", "quantile")
COUNT_LOSSES = ("negative_binomial", "poisson")
BLOCKS = {"mse": 1, "mae": 1, "gaussian_nll": 2, "student_t": 3, "negative_binomial": 2,
          "poisson": 1}
MIN_VARIANCE = 1e-6
#: the quantile head's spread at zero outputs: a normal's quantiles with this scale
QUANTILE_START = 0.05


def check_quantiles(quantiles: Sequence[float] | None) -> tuple[float, ...]:
    """The quantile levels, checked: distinct numbers in (0, 1), sorted."""
    levels = tuple(quantiles or ())
    good = all(isinstance(q, (int, float)) and not isinstance(q, bool) and 0 < q < 1
               for q in levels)
    if not good or list(levels) != sorted(set(levels)):
        raise ConfigError("model.task_options.real.quantiles", "a sorted list of distinct "
                          "numbers in (0, 1), e.g. [0.1, 0.5, 0.9]", list(levels))
    return tuple(float(q) for q in levels)


#: ``s^-1(QUANTILE_START)``: the shift of the quantile head's raw increments
QUANTILE_SHIFT = math.log(math.expm1(QUANTILE_START))


def level_gaps(levels: Sequence[float]) -> tuple[float, ...]:
    """The gaps between the standard normal quantiles of consecutive ``levels``."""
    z = [NormalDist().inv_cdf(q) for q in levels]
    return tuple(b - a for a, b in pairwise(z))


def softplus(x: torch.Tensor) -> torch.Tensor:
    return nn.functional.softplus(x)


def softplus_inverse(y: torch.Tensor) -> torch.Tensor:
    """The ``x`` with ``softplus(x) = y`` (``y`` clamped to at least 1e-12)."""
    y = y.clamp_min(1e-12)
    return y + torch.log(-torch.expm1(-y))


class OutputDistribution:
    """The meaning of a forecaster's raw outputs under ``loss`` for ``targets`` targets; the
    ``quantile`` loss reads ``quantiles`` levels."""

    def __init__(self, loss: str, targets: int, quantiles: Sequence[float] = ()) -> None:
        if loss not in LOSSES:
            raise ConfigError("model.task_options.real.loss", f"one of {list(LOSSES)}", loss)
        self.loss_name, self.targets = loss, targets
        self.levels = check_quantiles(quantiles)
        if loss == "quantile" and not self.levels:
            raise ConfigError("model.task_options.real.quantiles", "a list of quantile levels "
                              "with loss=quantile, e.g. [0.1, 0.5, 0.9]", list(quantiles))
        self.blocks = len(self.levels) if loss == "quantile" else BLOCKS[loss]

    @property
    def width(self) -> int:
        """Raw outputs per horizon step."""
        return self.blocks * self.targets

    @property
    def probabilistic(self) -> bool:
        return self.loss_name not in ("mse", "mae")

    @property
    def counts(self) -> bool:
        return self.loss_name in COUNT_LOSSES

    def split(self, outputs: torch.Tensor) -> list[torch.Tensor]:
        """The ``blocks`` raw blocks ``(B, H, n)``."""
        return list(outputs.split(self.targets, dim=-1))

    def affine(self, outputs: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor | None
               ) -> torch.Tensor:
        """Raw outputs of ``loc + scale * Y`` for ``Y`` the forecast of raw ``outputs`` (in
        standardised units; ``scale`` > 0 or None for 1; both broadcast to ``(B, H, n)``): the
        location moves and scales, spreads (variance, scale, quantile increments) scale."""
        first, *rest = self.split(outputs)
        if scale is None:
            return torch.cat([first + loc, *rest], dim=-1)
        if self.counts:
            raise ConfigError("model.task_options.real.normalization", f"none with loss="
                              f"{self.loss_name} (counts are not rescaled per window)",
                              "revin")
        if self.loss_name == "gaussian_nll":
            variance = (softplus(rest[0]) + MIN_VARIANCE) * scale.square()
            rest = [softplus_inverse(variance - MIN_VARIANCE)]
        elif self.loss_name == "student_t":
            rest = [softplus_inverse((softplus(rest[0]) + 1e-3) * scale - 1e-3), rest[1]]
        elif self.loss_name == "quantile":
            shift = QUANTILE_SHIFT
            rest = [softplus_inverse(softplus(r + shift) * scale) - shift for r in rest]
        return torch.cat([first * scale + loc, *rest], dim=-1)

    def quantile_values(self, outputs: torch.Tensor) -> torch.Tensor:
        """``(Q, B, H, n)`` non-crossing quantiles (standardised) of the ``quantile`` head."""
        first, *rest = self.split(outputs)
        steps = [softplus(r + QUANTILE_SHIFT) * gap
                 for r, gap in zip(rest, level_gaps(self.levels), strict=True)]
        return torch.cumsum(torch.stack([first, *steps]), dim=0)

    def distribution(self, outputs: torch.Tensor, mean: torch.Tensor,
                     std: torch.Tensor) -> D.Distribution:
        """The forecast distribution in original units; ``mean``/``std`` ``(B, 1, n)`` are the
        series' scalers (values = standardised * std + mean)."""
        blocks = self.split(outputs)
        if self.loss_name == "gaussian_nll":
            scale = (softplus(blocks[1]) + MIN_VARIANCE).sqrt()
            return D.Normal(blocks[0] * std + mean, scale * std)
        if self.loss_name == "student_t":
            return D.StudentT(2 + softplus(blocks[2]), blocks[0] * std + mean,
                              (softplus(blocks[1]) + 1e-3) * std)
        rate = softplus(blocks[0]) * (1 + mean.abs())
        if self.loss_name == "poisson":
            return D.Poisson(rate)
        total = 1 / (softplus(blocks[1]) + 1e-4)  # r = 1 / dispersion
        return D.NegativeBinomial(total, probs=rate / (rate + total))

    def point(self, outputs: torch.Tensor, mean: torch.Tensor, std: torch.Tensor
              ) -> torch.Tensor:
        """``(B, H, n)`` the point forecast in standardised units: the mean (the median for
        the quantile head: its level nearest 0.5)."""
        if self.loss_name in ("mse", "mae"):
            return outputs
        if self.loss_name == "quantile":
            middle = min(range(len(self.levels)), key=lambda k: abs(self.levels[k] - 0.5))
            return self.quantile_values(outputs)[middle]
        if self.counts:
            return (self.distribution(outputs, mean, std).mean - mean) / std
        return self.split(outputs)[0]

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, mean: torch.Tensor,
             std: torch.Tensor) -> torch.Tensor:
        """The training loss of standardised ``targets`` ``(B, H, n)``."""
        name, blocks = self.loss_name, self.split(outputs)
        if name == "mse":
            return nn.functional.mse_loss(outputs, targets)
        if name == "mae":
            return nn.functional.l1_loss(outputs, targets)
        if name == "gaussian_nll":
            return nn.functional.gaussian_nll_loss(blocks[0], targets,
                                                   softplus(blocks[1]) + MIN_VARIANCE)
        if name == "quantile":
            return pinball_loss(self.quantile_values(outputs), targets, self.levels)
        if name == "student_t":  # in standardised units: the same gradients as in original
            return -D.StudentT(2 + softplus(blocks[2]), blocks[0],
                               softplus(blocks[1]) + 1e-3).log_prob(targets).mean()
        counts = (targets * std + mean).round().clamp_min(0)
        return -self.distribution(outputs, mean, std).log_prob(counts).mean()

    def sample(self, outputs: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
               num: int) -> torch.Tensor:
        """``(num, B, H, n)`` draws in original units (a distribution head's)."""
        if self.loss_name == "quantile" or not self.probabilistic:
            raise ConfigError("model.task_options.real.loss", "a distribution loss "
                              "(gaussian_nll, student_t, poisson, negative_binomial) to draw "
                              "sample paths", self.loss_name)
        return self.distribution(outputs, mean, std).sample((num,)).to(outputs.dtype)

    def quantiles(self, outputs: torch.Tensor, levels: Sequence[float], mean: torch.Tensor,
                  std: torch.Tensor, num_samples: int) -> torch.Tensor:
        """``(Q, B, H, n)`` the forecast's quantiles at ``levels``, in original units: exact
        for the Gaussian and the quantile head (its own levels), else from ``num_samples``
        draws."""
        if self.loss_name == "quantile":
            values = self.quantile_values(outputs) * std + mean
            return torch.stack([values[self.levels.index(q)] for q in levels])
        if self.loss_name == "gaussian_nll":
            normal = self.distribution(outputs, mean, std)
            return torch.stack([normal.icdf(torch.full_like(normal.loc, q)) for q in levels])
        return sample_quantiles(self.sample(outputs, mean, std, num_samples), levels,
                                self.counts)


def sample_quantiles(samples: torch.Tensor, levels: Sequence[float],
                     discrete: bool = False) -> torch.Tensor:
    """``(Q, ...)`` quantiles over the first dimension of ``samples`` ``(S, ...)``; of
    ``discrete`` draws (counts), draws themselves (no interpolation between two counts)."""
    return torch.quantile(samples, torch.tensor(levels, dtype=samples.dtype,
                                                device=samples.device), dim=0,
                          interpolation="nearest" if discrete else "linear")


def pinball_loss(quantiles: torch.Tensor, targets: torch.Tensor,
                 levels: Sequence[float]) -> torch.Tensor:
    """Mean pinball (quantile) loss of ``quantiles`` ``(Q, ...)`` at ``levels`` for
    ``targets`` ``(...)``."""
    tau = torch.tensor(levels, dtype=quantiles.dtype, device=quantiles.device)
    tau = tau.view(-1, *([1] * targets.dim()))
    error = targets.unsqueeze(0) - quantiles  # (Q, ...)
    return torch.maximum(tau * error, (tau - 1) * error).mean()
