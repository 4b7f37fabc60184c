"""Helpers for explicit hidden state: detach at batch boundaries, reset, select."""

from __future__ import annotations

from collections.abc import Callable

import torch

from seqlstm.nn.encoder import HiddenState


def map_state(function: Callable[[torch.Tensor], torch.Tensor], state: HiddenState
              ) -> HiddenState:
    """``function`` applied to each tensor of ``state`` (``h`` or ``(h, c)``)."""
    if isinstance(state, tuple):
        return tuple(function(s) for s in state)
    return function(state)


def detach_state(state: HiddenState | None) -> HiddenState | None:
    """Cut the graph behind ``state`` (truncated BPTT), keeping its values."""
    return None if state is None else map_state(torch.Tensor.detach, state)


def state_to(state: HiddenState, device: torch.device) -> HiddenState:
    """``state`` on ``device`` (the same tensors when already there)."""
    return map_state(lambda s: s.to(device), state)


def reset_rows(state: HiddenState, keep: torch.Tensor) -> HiddenState:
    """``state`` with the batch rows where ``keep`` ``(B,)`` is False set to zero (a restart)."""
    mask = keep.to(dtype=(state[0] if isinstance(state, tuple) else state).dtype).view(1, -1, 1)
    return map_state(lambda s: s * mask, state)
