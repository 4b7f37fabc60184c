"""The hidden state a task carries across batches (stateful streams), in one object.

A batch with a ``reset`` mask ``(B,)`` (the data modules' stream batches) continues the
streams of the previous batch of the same stage. It starts from the state that batch ended in,
detached (the truncation of truncated BPTT), with the rows where a stream restarts set to zero.
Each stage (train, val, test) keeps its own state, so a validation run in the middle of a
training epoch does not disturb the training streams; the first batch of every epoch resets
every stream. Batches without ``reset`` are independent windows and start from zeros.

Checkpoints keep the training state of every rank, so a fit resumed mid-epoch continues its
streams exactly. Nothing here knows about Lightning: the task passes its gather function and
its rank.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from seqlstm.errors import CheckpointError, ConfigError
from seqlstm.nn import HiddenState, detach_state, reset_rows, state_to

Batch = Mapping[str, torch.Tensor]
#: where a checkpoint keeps the training streams' carried state
CARRIED_KEY = "seqlstm_carried_state"


class CarriedState:
    """The state each stage's streams carry from one batch to the next (see module doc)."""

    def __init__(self) -> None:
        self.by_stage: dict[str, HiddenState] = {}

    def start(self, batch: Batch, stage: str, bidirectional: bool) -> HiddenState | None:
        """The state ``batch`` starts from: None (zeros) unless it continues stateful streams."""
        if "reset" not in batch:
            return None
        if bidirectional:
            raise ConfigError("model.encoder.bidirectional", "false with stateful data (a "
                              "backward direction cannot carry state forward)", True)
        state = self.by_stage.get(stage)
        keep = ~batch["reset"]
        if state is None or not keep.any():
            return None
        state = state_to(state, keep.device)  # restored from a checkpoint: on the CPU
        return state if keep.all() else reset_rows(state, keep)

    def keep(self, stage: str, batch: Batch, state: HiddenState) -> None:
        """Keep ``state`` (detached) for the next batch of ``stage`` when ``batch`` is stateful."""
        if "reset" in batch:
            self.by_stage[stage] = detach_state(state)

    def save(self, checkpoint: dict[str, Any], world_size: int,
             gather: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """Put the training streams' state into ``checkpoint``, every rank's (``gather`` is the
        task's ``all_gather``: saving runs on all ranks), so a mid-epoch resume goes on from
        it."""
        state = self.by_stage.get("train")
        if state is None:
            return
        parts = state if isinstance(state, tuple) else (state,)
        if world_size > 1:
            parts = tuple(gather(part) for part in parts)  # (W, layers, B, H)
        else:
            parts = tuple(part.unsqueeze(0) for part in parts)  # (1, layers, B, H)
        checkpoint[CARRIED_KEY] = {"parts": [part.cpu() for part in parts],
                                   "tuple": isinstance(state, tuple)}

    def load(self, checkpoint: Mapping[str, Any], world_size: int, rank: int) -> None:
        """This rank's training state from ``checkpoint`` (saved by :meth:`save`)."""
        saved = checkpoint.get(CARRIED_KEY)
        if saved is None:
            return
        ranks = saved["parts"][0].size(0)
        if ranks != world_size:
            raise CheckpointError(f"the checkpoint carries the stateful streams of {ranks} "
                                  f"rank(s); resume it on {ranks}, not {world_size}")
        parts = tuple(part[rank] for part in saved["parts"])
        self.by_stage["train"] = parts if saved["tuple"] else parts[0]

    def __getitem__(self, stage: str) -> HiddenState:
        return self.by_stage[stage]
