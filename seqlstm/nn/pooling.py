"""Pooling a sequence of encoder outputs ``(B, T, D * H)`` into one vector per sequence."""

from __future__ import annotations

import torch
from torch import nn

POOLINGS = ("last", "mean", "max")


def valid_mask(lengths: torch.Tensor | None, batch: int, steps: int,
               device: torch.device) -> torch.Tensor:
    """``(B, T)`` bool: True at steps ``t < lengths[b]`` (all True when ``lengths`` is None)."""
    if lengths is None:
        return torch.ones(batch, steps, dtype=torch.bool, device=device)
    return torch.arange(steps, device=device) < lengths.to(device).unsqueeze(1)


def last_step(out: torch.Tensor, lengths: torch.Tensor | None,
              num_directions: int = 1) -> torch.Tensor:
    """The output at each sequence's true last step: ``(B, T, D * H) -> (B, D * H)``.

    The forward direction ends at step ``lengths - 1`` (not at ``T - 1``, which is padding for
    shorter sequences); a backward direction ends at step 0, where it has read the whole
    sequence.
    """
    batch, steps, width = out.shape
    last = (lengths.to(out.device) - 1 if lengths is not None
            else torch.full((batch,), steps - 1, device=out.device))
    index = last.long().view(batch, 1, 1).expand(batch, 1, width)
    forward = out.gather(1, index).squeeze(1)  # (B, D * H)
    if num_directions == 1:
        return forward
    hidden = width // num_directions
    return torch.cat([forward[:, :hidden], out[:, 0, hidden:]], dim=-1)


def mean_pool(out: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Mean over valid steps: ``(B, T, F) -> (B, F)``."""
    mask = valid_mask(lengths, out.size(0), out.size(1), out.device).unsqueeze(-1)  # (B, T, 1)
    return (out * mask).sum(1) / mask.sum(1).clamp(min=1)


def max_pool(out: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Maximum over valid steps: ``(B, T, F) -> (B, F)``."""
    mask = valid_mask(lengths, out.size(0), out.size(1), out.device).unsqueeze(-1)
    return out.masked_fill(~mask, float("-inf")).amax(1)


class SequencePool(nn.Module):
    """``last``, ``mean`` or ``max`` pooling over the valid steps of each sequence."""

    def __init__(self, mode: str = "last", num_directions: int = 1) -> None:
        super().__init__()
        if mode not in POOLINGS:
            raise ValueError(f"pooling must be one of {list(POOLINGS)}, got {mode!r}")
        self.mode, self.num_directions = mode, num_directions

    def forward(self, out: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if self.mode == "last":
            return last_step(out, lengths, self.num_directions)
        if self.mode == "mean":
            return mean_pool(out, lengths)
        return max_pool(out, lengths)

    def extra_repr(self) -> str:
        return f"mode={self.mode}, num_directions={self.num_directions}"


class PooledHead(nn.Module):
    """Pool the steps, then a linear map: ``(B, T, F) -> (B, out_features)``."""

    def __init__(self, in_features: int, out_features: int, pooling: str = "last",
                 num_directions: int = 1) -> None:
        super().__init__()
        self.pool = SequencePool(pooling, num_directions)
        self.proj = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.proj(self.pool(x, lengths))
