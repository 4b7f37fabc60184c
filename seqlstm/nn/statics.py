"""Per-series inputs of a global forecasting model: embedded categorical static covariates,
real static covariates and a learned series-id embedding, as one vector per series."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def embedding_width(categories: int) -> int:
    """The embedding width of a categorical covariate with ``categories`` values:
    ``min(16, (categories + 1) // 2)``."""
    return max(1, min(16, (categories + 1) // 2))


class StaticEmbedding(nn.Module):
    """``(B, K_cat)`` category codes, ``(B, K_real)`` standardised real covariates and
    ``(B,)`` series rows -> ``(B, width)``: each categorical covariate's embedding, the real
    covariates as they are, then the series' embedding (``series_dim`` wide, 0: none)."""

    def __init__(self, cardinalities: Sequence[int], real: int, num_series: int = 1,
                 series_dim: int = 0) -> None:
        super().__init__()
        self.categorical = nn.ModuleList(nn.Embedding(c, embedding_width(c))
                                         for c in cardinalities)
        self.real = real
        self.series = nn.Embedding(num_series, series_dim) if series_dim else None
        self.width = sum(e.embedding_dim for e in self.categorical) + real + series_dim

    def forward(self, codes: torch.Tensor, real: torch.Tensor,
                series: torch.Tensor) -> torch.Tensor:
        parts = [embed(codes[:, k]) for k, embed in enumerate(self.categorical)]
        parts.append(real)
        if self.series is not None:
            parts.append(self.series(series))
        return torch.cat(parts, dim=-1)  # (B, width)
