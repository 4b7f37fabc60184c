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
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.callbacks import Timer
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
    """On SIGTERM or SIGUSR1, write a checkpoint at the next batch boundary and stop; after the
    fit's last batch (``trainer.max_steps`` or ``trainer.max_time`` reached, perhaps in the
    middle of an epoch), write ``last.ckpt``, so that it holds the weights the run ended with
    and resumes without repeating a step.

    Outside SLURM the checkpoint is ``last.ckpt``: Lightning's own SIGTERM handler flags the
    trainer and ends the fit with ``SIGTERMException`` after the batch, and this callback saves
    just before that; SIGUSR1 is handled here like SIGTERM.

    Under SLURM with Lightning's auto-requeue (its ``SLURMEnvironment``, the default there) the
    checkpoint is Lightning's ``hpc_ckpt_<n>.ckpt`` in the run folder, which Lightning resumes
    from when the job starts again in that folder. On the requeue signal (SIGUSR1: Slurm's
    ``--signal=USR1@<seconds>`` before a time limit, or ``scancel --signal=USR1``) Lightning's
    handler saves and requeues the job (``scontrol requeue``); on SIGTERM (preemption,
    ``scontrol requeue``) it only saves. Lightning alone acts wherever the signal lands, in the
    middle of a step; here both wait for the batch boundary, so the resumed run continues
    exactly. Every rank stops at the same boundary.

    Args:
        dirpath: where ``last.ckpt`` goes outside SLURM (default: the ModelCheckpoint's folder,
            else ``<default_root_dir>/checkpoints``).
    """

    def __init__(self, dirpath: str | None = None) -> None:
        self.dirpath = dirpath
        self._requested = False
        self._signum: int | None = None
        self._previous: Any = None
        self._slurm_requeue: Any = None  # Lightning's save-and-requeue, under SLURM
        self._timer: Timer | None = None  # Lightning's, when trainer.max_time is set

    @property
    def requested(self) -> bool:
        """Whether a save-and-stop signal has arrived (SIGTERM is read from the trainer)."""
        return self._requested

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
        # after Lightning's own signal set-up, which puts back what it found when the fit ends
        if not hasattr(signal, "SIGUSR1"):
            return
        environment = trainer._accelerator_connector.cluster_environment  # as Lightning reads it
        if isinstance(environment, SLURMEnvironment) and environment.auto_requeue:
            self._signum = environment.requeue_signal or signal.SIGUSR1
            self._slurm_requeue = trainer._signal_connector._slurm_sigusr_handler_fn
        elif signal.getsignal(signal.SIGUSR1) in (signal.SIG_DFL, None):
            self._signum = signal.SIGUSR1
        if self._signum is not None:
            self._previous = signal.signal(self._signum, self._on_signal)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._give_back_signal()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule,
                     exception: BaseException) -> None:
        self._give_back_signal()  # an interrupted fit skips on_train_end

    def _give_back_signal(self) -> None:
        if self._signum is not None:
            previous = signal.SIG_DFL if self._previous is None else self._previous
            signal.signal(self._signum, previous)
            self._signum = self._previous = None

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._requested = True

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        stop = trainer.received_sigterm or self._requested
        remaining = None if self._timer is None else self._timer.time_remaining()
        last = 0 < trainer.max_steps <= trainer.global_step or (
            remaining is not None and remaining <= 0)
        if trainer.world_size > 1:  # ranks may see a signal or the clock a step apart
            stop = trainer.strategy.reduce_boolean_decision(stop, all=False)
            if self._timer is not None:
                last = trainer.strategy.reduce_boolean_decision(last, all=False)
        if not stop:
            if last:  # the fit's last batch (max_steps, max_time): last.ckpt is its end state
                trainer.save_checkpoint(self.last_path(trainer))
            return
        if self._slurm_requeue is not None and self._requested:
            self._slurm_requeue(self._signum, None)  # saves hpc_ckpt_<n>.ckpt, then requeues
            path = "an hpc_ckpt in " + str(trainer.default_root_dir)
        else:
            path = str(self.checkpoint_path(trainer))
            trainer.save_checkpoint(path)
        log.warning("preempted at global step %d: saved %s; %s", trainer.global_step, path,
                    "Lightning resumes from it when the job restarts in that folder"
                    if self._slurm_requeue is not None else f"resume with ckpt_path={path}")
        if not trainer.received_sigterm:
            raise SIGTERMException()

    def checkpoint_path(self, trainer: L.Trainer) -> Path:
        """``hpc_ckpt_<n>.ckpt`` in the run folder under SLURM; ``last.ckpt`` elsewhere."""
        if self._slurm_requeue is not None:
            connector = trainer._checkpoint_connector
            return Path(connector.hpc_save_path(trainer.default_root_dir))
        return self.last_path(trainer)

    def last_path(self, trainer: L.Trainer) -> Path:
        """``last.ckpt`` in ``dirpath`` (default: the ModelCheckpoint's folder)."""
        folder = self.dirpath
        if folder is None and trainer.checkpoint_callback is not None:
            folder = trainer.checkpoint_callback.dirpath
        return Path(folder or Path(trainer.default_root_dir) / "checkpoints") / "last.ckpt"
