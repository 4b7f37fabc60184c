"""Exact resume: random states in checkpoints, and a checkpoint written on preemption."""

from __future__ import annotations

import logging
import random
import signal
from pathlib import Path
from types import FrameType
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException

log = logging.getLogger(__name__)


class RandomState(L.Callback):
    """Saves the torch, CUDA, numpy and Python random states in each checkpoint and restores
    them just before the first batch of a resumed fit, so dropout masks continue as if the
    run had never stopped. States are plain tensors and lists (``weights_only`` loading)."""

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        kind, keys, position, has_gauss, gauss = np.random.get_state()
        version, python_state, python_gauss = random.getstate()
        state: dict[str, Any] = {
            "torch": torch.get_rng_state(),
            "numpy": [kind, keys.tolist(), position, has_gauss, gauss],
            "python": [version, list(python_state), python_gauss],
        }
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = state_dict

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if self._pending is None:
            return
        state, self._pending = self._pending, None
        torch.set_rng_state(state["torch"])
        kind, keys, position, has_gauss, gauss = state["numpy"]
        np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), position, has_gauss, gauss))
        version, python_state, python_gauss = state["python"]
        random.setstate((version, tuple(python_state), python_gauss))
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])


class PreemptionCheckpoint(L.Callback):
    """On SIGTERM (or SIGUSR1 outside SLURM), write ``last.ckpt`` at the next batch boundary
    and stop.

    Lightning's own SIGTERM handler flags the trainer and ends the fit with
    ``SIGTERMException`` after the batch; this callback saves the checkpoint just before that.
    Under SLURM with auto-requeue, Lightning owns SIGUSR1 (it saves an ``hpc_ckpt`` and
    requeues); elsewhere SIGUSR1 is handled here like SIGTERM.

    Args:
        dirpath: where ``last.ckpt`` goes (default: the ModelCheckpoint's folder, else
            ``<default_root_dir>/checkpoints``).
    """

    def __init__(self, dirpath: str | None = None) -> None:
        self.dirpath = dirpath
        self._requested = False
        self._previous: Any = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # after Lightning's own signal set-up, which puts back what it found when the fit ends
        if hasattr(signal, "SIGUSR1") and signal.getsignal(signal.SIGUSR1) in (signal.SIG_DFL,
                                                                               None):
            self._previous = signal.signal(signal.SIGUSR1, self._on_signal)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._give_back_signal()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule,
                     exception: BaseException) -> None:
        self._give_back_signal()  # an interrupted fit skips on_train_end

    def _give_back_signal(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGUSR1, self._previous)
            self._previous = None

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._requested = True

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        if not (trainer.received_sigterm or self._requested):
            return
        path = self.checkpoint_path(trainer)
        trainer.save_checkpoint(path)
        log.warning("preempted at global step %d: saved %s; resume with ckpt_path=%s",
                    trainer.global_step, path, path)
        if self._requested and not trainer.received_sigterm:
            raise SIGTERMException()

    def checkpoint_path(self, trainer: L.Trainer) -> Path:
        folder = self.dirpath
        if folder is None and trainer.checkpoint_callback is not None:
            folder = trainer.checkpoint_callback.dirpath
        return Path(folder or Path(trainer.default_root_dir) / "checkpoints") / "last.ckpt"
