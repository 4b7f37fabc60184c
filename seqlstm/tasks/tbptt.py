"""Chunked truncated BPTT: one long training batch as several optimiser steps.

Lightning 2 removed ``truncated_bptt_steps``; :class:`TruncatedBPTT` does it under manual
optimisation. A batch ``(B, T, ...)`` is cut along time into chunks of ``steps`` steps
(``Tensor.split``: pieces of size ``steps``, the last shorter); each chunk is its own backward
pass and optimiser step, with the state carried (detached) from chunk to chunk. Manual
optimisation refuses ``trainer.gradient_clip_val``, so gradients are clipped here
(``model.gradient_clip_val``), and LR schedulers are stepped here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch.optim.lr_scheduler import ReduceLROnPlateau

from seqlstm.errors import ConfigError
from seqlstm.nn import detach_state

if TYPE_CHECKING:
    from seqlstm.tasks.base import Batch, SequenceTask


class TruncatedBPTT:
    """Trains a task's batches as chunks of ``steps`` time steps (see module doc).

    Args:
        steps: time steps per chunk (``model.tbptt_steps``).
        clip: the gradient-norm limit of each chunk's step, or None.
    """

    def __init__(self, steps: int, clip: float | None = None) -> None:
        self.steps, self.clip = steps, clip

    def training_step(self, task: SequenceTask, batch: Batch) -> torch.Tensor:
        """Train on ``batch`` chunk by chunk; returns the batch's weighted mean loss."""
        if "lengths" in batch or batch["targets"].shape[:2] != batch["inputs"].shape[:2]:
            raise ConfigError("model.tbptt_steps", "null for data without one target per input "
                              "step (or with variable lengths)", self.steps)
        optimizer = task.optimizers()
        state = task.carried.start(batch, "train", task.encoder.config.bidirectional)
        outputs, total, weight = [], torch.zeros(()), 0
        # (B, T, ...) -> chunks of (B, <= steps, ...)
        for inputs, targets in zip(batch["inputs"].split(self.steps, dim=1),
                                   batch["targets"].split(self.steps, dim=1), strict=True):
            chunk = {"inputs": inputs, "targets": targets}
            out, state = task(inputs, state)
            loss = task.loss(out, chunk)
            optimizer.zero_grad()
            task.manual_backward(loss)
            if self.clip is not None:
                task.clip_gradients(optimizer, gradient_clip_val=self.clip,
                                    gradient_clip_algorithm="norm")
            optimizer.step()
            self.step_schedulers(task, "step")
            state = detach_state(state)
            chunk_weight = task.batch_weight(chunk)
            total = total.to(loss.device) + loss.detach() * chunk_weight
            weight += chunk_weight
            outputs.append(out.detach())
        task.carried.keep("train", batch, state)
        loss = total / max(weight, 1)
        task.record("train", torch.cat(outputs, dim=1), batch, loss)
        return loss

    def step_schedulers(self, task: SequenceTask, interval: str) -> None:
        """Step the task's LR schedulers by hand if they run per ``interval`` (``step`` or
        ``epoch``); ``ReduceLROnPlateau`` steps on the last ``val/loss``."""
        schedulers = task.lr_schedulers()
        if task.hparams.scheduler_interval != interval or schedulers is None:
            return
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
            if isinstance(scheduler, ReduceLROnPlateau):
                metric = task.trainer.callback_metrics.get("val/loss")
                if metric is not None:
                    scheduler.step(metric)
            else:
                scheduler.step()
