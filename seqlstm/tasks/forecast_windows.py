"""Per-window transforms of a forecaster's targets: what makes a global model survive level
shifts, seasons and series of different scales.

The network reads the targets' input columns as ``x' = (x - in_loc) / in_scale`` and its
outputs ``y'`` mean the (standardised) forecast ``y = out_loc + out_scale * y'``; a
distribution head's location moves and scales with it, its spreads scale
(:meth:`~seqlstm.tasks.distributions.OutputDistribution.affine`), so losses, metrics, intervals
and samples all see forecasts in the data module's standardised units. Covariate columns are
left as they are.

==============================  ========================  ===================================
option                          inputs                    outputs
==============================  ========================  ===================================
``relative: last`` (``true``)   minus the last value      plus the last value
``relative: seasonal``          unchanged                 plus the seasonal naive forecast
``normalization: revin``        ``(x - mu) / sigma``,     ``(y' - beta) / gamma * sigma + mu``
                                then ``* gamma + beta``
``revin`` and ``seasonal``      as ``revin``              ``naive + (y' - beta) / gamma *
                                                          sigma``
``revin`` and ``last``          as ``revin``, ``mu`` the  as ``revin``
                                last value
==============================  ========================  ===================================

``normalization: auto`` (the config default) is RevIN for windows of a time-series table with a
continuous loss, and none elsewhere (:func:`resolve_normalization`).

RevIN (Kim et al. 2022, "Reversible instance normalization for accurate time-series forecasting
against distribution shift"): ``mu`` and ``sigma`` are the mean and the standard deviation
(``sqrt(var + 1e-5)``) of each window's lookback, per target; ``gamma`` (taken by its absolute
value plus 1e-5, so that scales stay positive) and ``beta`` are the learnable affine, one per
target. The seasonal naive forecast of each horizon step is the value one season (``data.season``)
earlier, or whole seasons earlier until it falls in the lookback: with outputs of zero the
forecast is the seasonal naive forecast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from seqlstm.errors import ConfigError, DataError
from seqlstm.spec import naive_offsets
from seqlstm.tasks.distributions import COUNT_LOSSES

RELATIVE = ("none", "last", "seasonal")
NORMALIZATIONS = ("none", "revin")
REVIN_EPS = 1e-5


def check_relative(value: bool | str | None) -> str:
    """``relative`` as one of :data:`RELATIVE` (``true`` is ``last``, ``false`` ``none``)."""
    names = {False: "none", None: "none", "false": "none", True: "last", "true": "last"}
    mode = names.get(value, value) if isinstance(value, (bool, str)) or value is None else value
    if mode not in RELATIVE:
        raise ConfigError("model.task_options.real.relative", "false, true (= last) or "
                          "seasonal", value)
    return mode


def resolve_normalization(normalization: str, loss: str, extra: dict[str, Any],
                          variable_length: bool) -> str:
    """``auto`` made concrete for the data: RevIN for windows of a time-series table (whose
    targets lead the inputs) with a continuous loss; none for counts, stateful streams and
    other real-valued data."""
    if normalization != "auto":
        return normalization
    series = "targets" in extra and not extra.get("stateful") and not variable_length
    return "revin" if series and loss not in COUNT_LOSSES else "none"


def check_window_options(relative: str, normalization: str, loss: str, strategy: str) -> None:
    """The window options, checked against each other and the loss."""
    key = "model.task_options.real."
    if normalization not in NORMALIZATIONS:
        raise ConfigError(key + "normalization", f"one of {[*NORMALIZATIONS, 'auto']}",
                          normalization)
    if relative != "none" and loss in COUNT_LOSSES:
        raise ConfigError(key + "relative", f"false with loss={loss} (counts are not relative "
                          "to the last value)", relative)
    if normalization == "revin" and loss in COUNT_LOSSES:
        raise ConfigError(key + "normalization", f"none with loss={loss} (counts are not "
                          "rescaled per window)", normalization)
    if relative == "seasonal" and strategy != "direct":
        raise ConfigError(key + "relative", "false or true with the autoregressive strategy "
                          "(seasonal needs the direct strategy)", relative)


@dataclass
class WindowTransform:
    """The affine maps of one batch of windows (see the module docstring); every tensor
    ``(B, 1 or H, n)``, a scale None meaning 1."""

    targets: int
    in_loc: torch.Tensor
    in_scale: torch.Tensor | None
    out_loc: torch.Tensor
    out_scale: torch.Tensor | None

    def inputs(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(B, T, F)`` inputs with their target columns transformed."""
        return torch.cat([self.values_in(inputs[..., : self.targets]),
                          inputs[..., self.targets :]], dim=-1)

    def values_in(self, values: torch.Tensor) -> torch.Tensor:
        """Targets ``(B, K, n)`` as the network reads them (teacher forcing)."""
        shifted = values - self.in_loc
        return shifted if self.in_scale is None else shifted / self.in_scale

    def values_out(self, values: torch.Tensor) -> torch.Tensor:
        """The network's point forecasts or draws ``(..., H, n)`` in standardised units."""
        scaled = values if self.out_scale is None else values * self.out_scale
        return scaled + self.out_loc


def window_transform(inputs: torch.Tensor, targets: int, horizon: int, relative: str,
                     normalization: str, season: int | None,
                     affine: tuple[torch.Tensor, torch.Tensor] | None = None
                     ) -> WindowTransform | None:
    """The transform of windows ``inputs`` ``(B, T, F)`` (targets first); None: identity.
    ``affine`` is RevIN's ``(gamma, beta)`` ``(n,)``, or None for no learnable affine."""
    values = inputs[..., :targets]  # (B, T, n) standardised targets of the lookback
    zero = values.new_zeros(values.size(0), 1, targets)
    in_loc, in_scale, mean = zero, None, zero
    if normalization == "revin":  # centred on the mean, or on the last value with "last"
        mean = values[:, -1:] if relative == "last" else values.mean(dim=1, keepdim=True)
        in_scale = (values.var(dim=1, unbiased=False, keepdim=True) + REVIN_EPS).sqrt()
        if affine is not None:
            gamma, beta = affine[0].abs() + REVIN_EPS, affine[1]
            in_scale = in_scale / gamma
            in_loc = mean - beta * in_scale  # x' = (x - mu) / sigma * gamma + beta
        else:
            in_loc = mean
    elif relative == "last":
        in_loc = values[:, -1:]  # (B, 1, n)
    out_loc = in_loc
    if relative == "seasonal":
        rows = naive_offsets(values.size(1), horizon, season or 1).to(values.device)
        if int(rows.min()) < 0:
            raise DataError(f"relative=seasonal needs a lookback of at least one season before "
                            f"every horizon step ({values.size(1) - int(rows.min())} steps), "
                            f"got {values.size(1)}")
        out_loc = values[:, rows] + (in_loc - mean)  # (B, H, n): the seasonal naive forecast
    if relative == "none" and normalization == "none":
        return None
    return WindowTransform(targets, in_loc, in_scale, out_loc, in_scale)
