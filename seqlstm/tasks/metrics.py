"""Language-model metrics derived from the token-weighted mean negative log-likelihood."""

from __future__ import annotations

import math

import torch
from torchmetrics import MeanMetric


class Perplexity(MeanMetric):
    """``exp`` of the mean per-token NLL; update with ``(nll_mean, weight=num_tokens)``."""

    def compute(self) -> torch.Tensor:
        return super().compute().exp()


class BitsPerCharacter(MeanMetric):
    """Mean per-token NLL in bits; update with ``(nll_mean, weight=num_tokens)``."""

    def compute(self) -> torch.Tensor:
        return super().compute() / math.log(2)
