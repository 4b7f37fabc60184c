"""Monotone transforms of forecast targets (``data.target_transform``), applied before the
per-series standardisation and undone after it.

A model of ``log(y)`` forecasts relative changes: its intervals widen with the level and never
fall below zero, as a positive series (sunspots, sales, load) needs. Because each transform is
increasing, a quantile of the transformed forecast is the same quantile of the forecast in
original units, so intervals, coverage and the quantile head need nothing else; a point
forecast of a symmetric head (its location) becomes the forecast's median.

===========  ==============  ====================  =========================================
name         forward         inverse               targets must be
===========  ==============  ====================  =========================================
``none``     ``y``           ``y``                 anything
``log``      ``log(y)``      ``exp(z)``            positive
``log1p``    ``log(1 + y)``  ``exp(z) - 1``        above -1 (non-negative series with zeros)
``sqrt``     ``sqrt(y)``     ``max(z, 0) ** 2``    non-negative
===========  ==============  ====================  =========================================

Works on NumPy arrays and torch tensors alike. Nothing here imports Lightning or pandas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from seqlstm.errors import ConfigError

TRANSFORMS = ("none", "log", "log1p", "sqrt")
#: what each transform needs of a target value, for error messages
DOMAINS = {"log": "positive", "log1p": "above -1", "sqrt": "non-negative"}
#: each transform's forward and inverse, by the name NumPy and torch both give them
FUNCTIONS = {"log": ("log", "exp"), "log1p": ("log1p", "expm1"), "sqrt": ("sqrt", "square")}


def _library(values: Any) -> Any:
    return torch if isinstance(values, torch.Tensor) else np


@dataclass(frozen=True)
class TargetTransform:
    """One of :data:`TRANSFORMS` (checked: an unknown name is an error on
    ``data.target_transform``)."""

    name: str = "none"

    def __post_init__(self) -> None:
        if self.name not in TRANSFORMS:
            raise ConfigError("data.target_transform", f"one of {list(TRANSFORMS)}", self.name)

    @property
    def identity(self) -> bool:
        return self.name == "none"

    def forward(self, values: Any) -> Any:
        """``values`` in the units the model reads (NumPy or torch, any shape)."""
        if self.identity:
            return values
        return getattr(_library(values), FUNCTIONS[self.name][0])(values)

    def inverse(self, values: Any) -> Any:
        """Undo :meth:`forward`: ``values`` back in original units (never decreasing, so
        quantiles stay ordered; ``sqrt`` maps values below zero to zero)."""
        if self.identity:
            return values
        library = _library(values)
        if self.name == "sqrt":
            values = library.clip(values, 0, None)
        return getattr(library, FUNCTIONS[self.name][1])(values)

    def leading(self, values: Any, count: int, inverse: bool = False) -> Any:
        """``values`` ``(..., C)`` with :meth:`forward` (or :meth:`inverse`) applied to its
        first ``count`` columns (the targets, when the covariates follow them)."""
        if self.identity or count <= 0:
            return values
        apply = self.inverse if inverse else self.forward
        if count >= values.shape[-1]:
            return apply(values)
        out = values.clone() if isinstance(values, torch.Tensor) else values.astype(np.float64)
        out[..., :count] = apply(values[..., :count])
        return out

    def outside(self, values: Any) -> Any:
        """A boolean mask of ``values`` outside the transform's domain (NaN is not: missing
        values are the missing-value policy's)."""
        if self.name == "log":
            return values <= 0
        if self.name == "log1p":
            return values <= -1
        if self.name == "sqrt":
            return values < 0
        return values < values  # none: nothing (False everywhere, NaN too)

    @property
    def expected(self) -> str:
        """What the transform needs of a target value, e.g. ``positive``."""
        return DOMAINS.get(self.name, "any number")


#: the transform that changes nothing (the default)
IDENTITY = TargetTransform()
