"""Output heads: small modules mapping encoder outputs to predictions."""

from __future__ import annotations

import torch
from torch import nn


class StepHead(nn.Module):
    """A linear map applied at every step: ``(B, T, F) -> (B, T, out_features)``."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.proj = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class TiedDecoder(nn.Module):
    """Token logits from an embedding matrix it shares (weight tying, Press & Wolf 2017).

    When the encoder width differs from the embedding width, a linear projection maps it down
    first; the vocabulary matrix itself stays shared. The shared matrix is drawn again from
    ``U(-init_range, init_range)`` (pytorch/examples and AWD-LSTM use 0.1): with torch's
    ``N(0, 1)`` embedding each initial logit has a standard deviation equal to the features'
    norm, and the inputs are as large, so training starts far from a uniform prediction and
    SGD spends its first steps undoing that. ``init_range=None`` keeps the embedding as it is.
    """

    def __init__(self, embedding: nn.Embedding, in_features: int,
                 init_range: float | None = 0.1) -> None:
        super().__init__()
        self.embedding = embedding
        if init_range is not None:
            nn.init.uniform_(embedding.weight, -init_range, init_range)
        dim = embedding.embedding_dim
        self.down = nn.Identity() if in_features == dim else nn.Linear(in_features, dim)
        self.bias = nn.Parameter(torch.zeros(embedding.num_embeddings))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, T, F) -> (B, T, E) -> (B, T, V)
        return nn.functional.linear(self.down(x), self.embedding.weight, self.bias)


class DirectHead(nn.Module):
    """A whole horizon at once from the last valid step (the direct forecasting strategy):
    features ``(B, T, F)`` and known-future covariates ``(B, horizon, C)`` -> ``(B, horizon,
    width)``."""

    def __init__(self, in_features: int, horizon: int, width: int, future: int = 0) -> None:
        super().__init__()
        self.horizon, self.width, self.future = horizon, width, future
        self.proj = nn.Linear(in_features + horizon * future, horizon * width)

    def forward(self, x: torch.Tensor, future: torch.Tensor | None = None,
                lengths: torch.Tensor | None = None) -> torch.Tensor:
        if lengths is None:
            last = x[:, -1]  # (B, F)
        else:  # the last valid step, not the padding
            last = x[torch.arange(x.size(0), device=x.device), lengths.to(x.device) - 1]
        if self.future:
            last = torch.cat([last, future.flatten(1)], dim=-1)  # (B, F + horizon * C)
        return self.proj(last).view(-1, self.horizon, self.width)
