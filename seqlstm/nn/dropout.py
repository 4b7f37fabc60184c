"""Dropout kinds for recurrent networks.

* :class:`LockedDropout` (variational dropout, Gal & Ghahramani 2016): one mask per sequence,
  shared by every time step.
* :func:`embedding_dropout` (Merity et al. 2017): drops whole rows of the embedding matrix,
  so a dropped token is dropped everywhere it occurs in the batch.
* Weight drop (DropConnect on the hidden-to-hidden matrices) lives in
  :class:`seqlstm.nn.encoder.RecurrentLayer`, which owns those weights.
"""

from __future__ import annotations

import torch
from torch import nn


class LockedDropout(nn.Module):
    """Dropout whose mask is sampled once per sequence and reused at every step."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, T, F); the mask is (B, 1, F), broadcast over time.
        if not self.training or self.p == 0.0:
            return x
        mask = x.new_empty(x.size(0), 1, x.size(2)).bernoulli_(1.0 - self.p)
        return x * mask / (1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def make_dropout(p: float, kind: str) -> nn.Module:
    """The dropout applied to a layer's outputs: ``standard`` (per element) or ``locked``."""
    if p == 0.0:
        return nn.Identity()
    return LockedDropout(p) if kind == "locked" else nn.Dropout(p)


def embedding_dropout(embed: nn.Embedding, ids: torch.Tensor, p: float,
                      training: bool) -> torch.Tensor:
    """Look up ``ids`` in ``embed`` with whole vocabulary rows dropped with probability ``p``."""
    if not training or p == 0.0:
        return embed(ids)
    keep = embed.weight.new_empty(embed.weight.size(0), 1).bernoulli_(1.0 - p) / (1.0 - p)
    return nn.functional.embedding(ids, embed.weight * keep, embed.padding_idx)
