"""Callbacks that log what scalars cannot show: samples, figures, gradient norms, throughput."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import grad_norm

from seqlstm.tracking.media import log_figure, log_text_table

SAMPLES_KEY = "val/samples"


class ValidationMedia(L.Callback):
    """After each validation epoch (not the sanity check), log the task's media.

    Text comes from ``task.validation_samples(count, length, seed)`` as ``(prompt, sample)``
    pairs; figures from ``task.validation_figures(batch)`` on the first validation batch. Both
    hooks default to nothing, so any task can plug in. Runs on global rank zero only.

    Args:
        samples: how many text samples per epoch (0: none).
        sample_length: characters (tokens) per sample.
        figures: ask the task for figures.
        every_n_epochs: log every n-th validation epoch.
        seed: sampling seed, the same every epoch so samples are comparable.
    """

    def __init__(self, samples: int = 2, sample_length: int = 200, figures: bool = True,
                 every_n_epochs: int = 1, seed: int = 0) -> None:
        self.samples, self.sample_length, self.figures = samples, sample_length, figures
        self.every_n_epochs, self.seed = max(1, every_n_epochs), seed
        self.first_batch: Any = None
        self.rows: list[list[Any]] = []

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.first_batch = None

    def on_validation_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule,
                                outputs: Any, batch: Any, batch_idx: int,
                                dataloader_idx: int = 0) -> None:
        if batch_idx == 0 and dataloader_idx == 0:
            self.first_batch = batch

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero \
                or trainer.current_epoch % self.every_n_epochs:
            return
        with torch.no_grad():
            if self.samples and self.sample_length and hasattr(pl_module, "validation_samples"):
                pairs = pl_module.validation_samples(self.samples, self.sample_length, self.seed)
                if pairs:
                    # W&B tables are immutable: log the growing table, newest epoch last
                    self.rows += [[trainer.current_epoch, trainer.global_step, prompt, text]
                                  for prompt, text in pairs]
                    log_text_table(trainer, SAMPLES_KEY, ["epoch", "step", "prompt", "sample"],
                                   self.rows[-len(pairs):], history=self.rows)
            if self.figures and self.first_batch is not None \
                    and hasattr(pl_module, "validation_figures"):
                for name, figure in pl_module.validation_figures(self.first_batch).items():
                    log_figure(trainer, f"val/{name}", figure)
        self.first_batch = None


class GradNormMonitor(L.Callback):
    """Log the gradient norm before each optimiser step as ``train/grad_norm`` (the norm over
    all parameters, before clipping), plus one curve per parameter when ``per_parameter``."""

    def __init__(self, norm_type: float = 2.0, per_parameter: bool = False) -> None:
        self.norm_type, self.per_parameter = norm_type, per_parameter

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule,
                                 optimizer: torch.optim.Optimizer) -> None:
        if trainer.global_step % trainer.log_every_n_steps:
            return
        norms = grad_norm(pl_module, norm_type=self.norm_type)
        total_key = f"grad_{float(self.norm_type)}_norm_total"
        if total_key not in norms:  # no gradients yet (e.g. a frozen model)
            return
        logged = {"train/grad_norm": norms.pop(total_key)}
        if self.per_parameter:
            logged.update({f"grad_norm/{name.split('/', 1)[-1]}": value
                           for name, value in norms.items()})
        pl_module.log_dict(logged, on_step=True, on_epoch=False)


def batch_items(batch: Any) -> tuple[int, str]:
    """How much a batch holds and in what unit: tokens for ``(B, T)`` id inputs, else windows
    (one per sequence of real features)."""
    inputs = batch["inputs"]
    if inputs.dtype in (torch.int64, torch.int32, torch.uint8) and inputs.dim() == 2:
        return inputs.numel(), "tokens"
    return inputs.size(0), "windows"


class Throughput(L.Callback):
    """Log training throughput (``train/tokens_per_s`` or ``train/windows_per_s``, all ranks
    together) to the progress bar and the loggers: the mean over the last ``window`` batches,
    timed from one batch's end to the next so data loading counts and validation does not."""

    def __init__(self, window: int = 20) -> None:
        self.recent: deque[tuple[int, float]] = deque(maxlen=window)
        self.last = 0.0

    def _restart_clock(self, *_: Any) -> None:
        self.last = time.perf_counter()

    on_train_epoch_start = _restart_clock
    on_validation_end = _restart_clock

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        count, unit = batch_items(batch)
        now = time.perf_counter()
        self.recent.append((count * trainer.world_size, now - self.last))
        self.last = now
        items = sum(c for c, _ in self.recent)
        seconds = sum(s for _, s in self.recent)
        if seconds > 0:
            pl_module.log(f"train/{unit}_per_s", items / seconds, on_step=True, on_epoch=False,
                          prog_bar=True, rank_zero_only=True)
