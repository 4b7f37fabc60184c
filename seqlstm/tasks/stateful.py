"""Carried hidden state: stateful (truncated-BPTT) training and evaluation, and one-step calls.

Everything about state that outlives one forward pass lives here, mixed into
:class:`~seqlstm.tasks.base.SequenceTask`, so every task gets it:

* **Stateful batches.** A batch with a ``reset`` mask ``(B,)`` (see
  the data modules' stream batches) continues the streams of the previous batch of the
  same stage. The task starts it from the state the previous batch ended in, detached (the
  truncation of truncated BPTT), with the rows where a stream restarts set to zero. Each stage
  (train, val, test) keeps its own state, so a validation run in the middle of a training epoch
  does not disturb the training streams; the first batch of every epoch resets every stream.
  Batches without ``reset`` are independent windows and start from zeros. Checkpoints keep the
  training state (every rank's), so a fit resumed mid-epoch continues its streams exactly.
* **Chunked truncation** (``tbptt_steps``): a long batch is cut along time into chunks of
  ``tbptt_steps`` steps (``Tensor.split``); each chunk is its own backward pass and optimiser
  step, with the state carried (detached) from chunk to chunk. This needs manual optimisation,
  so gradients are clipped here (``gradient_clip_val``) and LR schedulers are stepped here.
* **Stepping** (:meth:`StatefulMixin.step`): one observation in, the prediction for the next
  step out, with the state explicit; generation, streaming and export build on it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.optim.lr_scheduler import ReduceLROnPlateau

from seqlstm.errors import CheckpointError, ConfigError
from seqlstm.nn import HiddenState, detach_state, reset_rows, state_to
from seqlstm.spec import SPLITS

Batch = dict[str, torch.Tensor]
#: where a checkpoint keeps the training streams' carried state
CARRIED_KEY = "seqlstm_carried_state"


class StatefulMixin:
    """State carried across batches and chunks; mixed into ``SequenceTask`` (see module doc).

    Expects the host to provide ``hparams.tbptt_steps``, ``hparams.gradient_clip_val``,
    ``hparams.scheduler_interval``, ``encoder``, ``loss``, ``batch_weight`` and ``record``.
    """

    carried: dict[str, HiddenState]

    # -- state across batches -----------------------------------------------------------------
    def stream_state(self, batch: Batch, stage: str) -> HiddenState | None:
        """The state ``batch`` starts from: None (zeros) unless it continues stateful streams."""
        if "reset" not in batch:
            return None
        if self.encoder.config.bidirectional:
            raise ConfigError("model.encoder.bidirectional", "false with stateful data (a "
                              "backward direction cannot carry state forward)", True)
        state = self.carried.get(stage)
        keep = ~batch["reset"]
        if state is None or not keep.any():
            return None
        state = state_to(state, keep.device)  # restored from a checkpoint: on the CPU
        return state if keep.all() else reset_rows(state, keep)

    def carry_state(self, stage: str, batch: Batch, state: HiddenState) -> None:
        """Keep ``state`` (detached) for the next batch of ``stage`` when ``batch`` is stateful."""
        if "reset" in batch:
            self.carried[stage] = detach_state(state)

    def reset_state(self, stage: str | None = None) -> None:
        """Forget the carried state of ``stage`` (of every stage when None)."""
        for name in SPLITS if stage is None else (stage,):
            self.carried.pop(name, None)

    def save_carried_state(self, checkpoint: dict[str, Any]) -> None:
        """Put the training streams' carried state into ``checkpoint``, every rank's (gathered:
        ``Trainer.save_checkpoint`` runs on all ranks), so a mid-epoch resume goes on from it."""
        state = self.carried.get("train")
        if state is None:
            return
        parts = state if isinstance(state, tuple) else (state,)
        if self.trainer.world_size > 1:
            parts = tuple(self.all_gather(part) for part in parts)  # (W, layers, B, H)
        else:
            parts = tuple(part.unsqueeze(0) for part in parts)  # (1, layers, B, H)
        checkpoint[CARRIED_KEY] = {"parts": [part.cpu() for part in parts],
                                   "tuple": isinstance(state, tuple)}

    def load_carried_state(self, checkpoint: dict[str, Any]) -> None:
        """This rank's training state from ``checkpoint`` (saved by :meth:`save_carried_state`)."""
        saved = checkpoint.get(CARRIED_KEY)
        if saved is None:
            return
        ranks = saved["parts"][0].size(0)
        world_size, rank = (self.trainer.world_size, self.trainer.global_rank) \
            if self._trainer is not None else (1, 0)
        if ranks != world_size:
            raise CheckpointError(f"the checkpoint carries the stateful streams of {ranks} "
                                  f"rank(s); resume it on {ranks}, not {world_size}")
        parts = tuple(part[rank] for part in saved["parts"])
        self.carried["train"] = parts if saved["tuple"] else parts[0]

    # -- chunked truncation under manual optimisation -----------------------------------------
    def truncated_training_step(self, batch: Batch) -> torch.Tensor:
        """One batch as chunks of ``tbptt_steps`` steps, one optimiser step per chunk."""
        steps = self.hparams.tbptt_steps
        if "lengths" in batch or batch["targets"].shape[:2] != batch["inputs"].shape[:2]:
            raise ConfigError("model.tbptt_steps", "null for data without one target per input "
                              "step (or with variable lengths)", steps)
        optimizer = self.optimizers()
        state = self.stream_state(batch, "train")
        outputs, total, weight = [], torch.zeros(()), 0
        # (B, T, ...) -> chunks of (B, <= tbptt_steps, ...)
        for inputs, targets in zip(batch["inputs"].split(steps, dim=1),
                                   batch["targets"].split(steps, dim=1), strict=True):
            chunk = {"inputs": inputs, "targets": targets}
            out, state = self(inputs, state)
            loss = self.loss(out, chunk)
            optimizer.zero_grad()
            self.manual_backward(loss)
            if self.hparams.gradient_clip_val is not None:
                self.clip_gradients(optimizer, gradient_clip_val=self.hparams.gradient_clip_val,
                                    gradient_clip_algorithm="norm")
            optimizer.step()
            self.step_schedulers("step")
            state = detach_state(state)
            chunk_weight = self.batch_weight(chunk)
            total = total.to(loss.device) + loss.detach() * chunk_weight
            weight += chunk_weight
            outputs.append(out.detach())
        self.carry_state("train", batch, state)
        loss = total / max(weight, 1)
        self.record("train", torch.cat(outputs, dim=1), batch, loss)
        return loss

    def step_schedulers(self, interval: str) -> None:
        """Step the LR schedulers by hand (manual optimisation) if they run per ``interval``."""
        if self.hparams.scheduler_interval != interval or self.lr_schedulers() is None:
            return
        schedulers = self.lr_schedulers()
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
            if isinstance(scheduler, ReduceLROnPlateau):
                metric = self.trainer.callback_metrics.get("val/loss")
                if metric is not None:
                    scheduler.step(metric)
            else:
                scheduler.step()

    def on_train_epoch_end(self) -> None:
        if not self.automatic_optimization:
            self.step_schedulers("epoch")

    def configure_gradient_clipping(self, optimizer: torch.optim.Optimizer,
                                    gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        """Automatic optimisation: clip with ``model.gradient_clip_val`` or the trainer's."""
        own = self.hparams.gradient_clip_val
        if own is not None and gradient_clip_val is not None:
            raise ConfigError("model.gradient_clip_val", "null when trainer.gradient_clip_val is "
                              "set (clip in one place)", own)
        if own is not None:
            gradient_clip_val, gradient_clip_algorithm = own, "norm"
        self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)

    # -- one step at a time -------------------------------------------------------------------
    def step(self, inputs: torch.Tensor, state: HiddenState | None
             ) -> tuple[torch.Tensor, HiddenState]:
        """One recurrent step: ``(B, 1)`` ids or ``(B, 1, F)`` features -> the prediction for
        the next step ``(B, ...)`` (the head's output at this step) and the new state."""
        outputs, state = self(inputs, state)
        return outputs[:, -1], state

    def predict_step(self, batch: Batch, batch_idx: int = 0) -> Any:
        """The head's outputs for every step of ``batch["inputs"]``, from a zero state. Tasks
        that predict new data through ``seqlstm-predict`` override this and return named
        tensors in original units (the prediction contract in :mod:`seqlstm.tasks.base`)."""
        outputs, _ = self(batch["inputs"], lengths=batch.get("lengths"))
        return outputs
