"""Helpers for explicit hidden state: detach at batch boundaries, reset, select."""

from __future__ import annotations

import torch

from seqlstm.nn.encoder import HiddenState


def detach_state(state: HiddenState | None) -> HiddenState | None:
    """Cut the graph behind ``state`` (truncated BPTT), keeping its values."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def select_batch(state: HiddenState, index: torch.Tensor | slice) -> HiddenState:
    """The state of the sequences ``index`` picks along the batch dimension (dim 1)."""
    if isinstance(state, tuple):
        return tuple(s[:, index] for s in state)
    return state[:, index]


def reset_rows(state: HiddenState, keep: torch.Tensor) -> HiddenState:
    """``state`` with the batch rows where ``keep`` ``(B,)`` is False set to zero (a restart)."""
    mask = keep.to(dtype=(state[0] if isinstance(state, tuple) else state).dtype).view(1, -1, 1)
    if isinstance(state, tuple):
        return tuple(s * mask for s in state)
    return state * mask
