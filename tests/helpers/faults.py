"""Fault injection for the reliability tests: a signal at a chosen step, a NaN in a batch."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch

from seqlstm.tasks import LanguageModel


class SignalAt(L.Callback):
    """Send ``signum`` to this process at the start of global step ``step``."""

    def __init__(self, step: int, signum: int) -> None:
        self.step, self.signum = step, signum

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signum)


class NanAtStep(LanguageModel):
    """A language model whose embedded batch turns NaN at global step ``nan_step``."""

    def __init__(self, *args: Any, nan_step: int = 2, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.nan_step = nan_step

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        embedded = super().embed(inputs)
        if self.training and self.global_step == self.nan_step:
            embedded = embedded * float("nan")
        return embedded


class Payload:
    """Unpickling this calls ``os.mkdir(marker)``: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.mkdir, (str(self.marker),)


def write_malicious(source: Path, path: Path, marker: Path) -> Path:
    """Save the checkpoint at ``source`` again at ``path`` with a :class:`Payload` inside."""
    checkpoint = torch.load(source, weights_only=True)
    checkpoint["extra"] = Payload(marker)
    torch.save(checkpoint, path)
    return path


class PauseAt(L.Callback):
    """At the start of global step ``step``, touch ``marker`` and wait (up to ``timeout``
    seconds) until a save-and-stop signal has arrived: SIGTERM, or the one a
    :class:`~seqlstm.callbacks.PreemptionCheckpoint` holds. A test sends the signal once the
    marker exists, so the run is interrupted at that step however slowly it started; a run
    resumed past ``step`` never pauses."""

    def __init__(self, step: int, marker: str, timeout: float = 180) -> None:
        self.step, self.marker, self.timeout = step, Path(marker), timeout

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if trainer.global_step != self.step:
            return
        self.marker.touch()
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline and not (
                trainer.received_sigterm or any(getattr(callback, "requested", False)
                                                for callback in trainer.callbacks)):
            time.sleep(0.05)


class RecordSteps(L.Callback):
    """Append the global step of every training batch to ``path``, one a line: a run that is
    interrupted and resumed in the same folder shows which steps each attempt trained."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        with self.path.open("a") as handle:
            handle.write(f"{trainer.global_step}\n")
