"""Training budgets that hold on small data: early stopping counted in optimiser steps, a
minimum number of steps, and a warning for splits too small to trust.

On a training split of 32 sequences an epoch is one optimiser step, so Lightning's
``EarlyStopping(patience=5)`` (five validation checks) stops after a handful of steps and
``max_epochs: 3`` trains three. These callbacks look at how many steps an epoch has when
training starts and adapt; validation that never runs (``trainer.limit_val_batches=0``,
``trainer.max_steps`` below the first check) turns early stopping off with a warning instead of
the ``RuntimeError`` Lightning raises after training.
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.utilities import rank_zero_warn

from seqlstm.errors import check_int

#: a split with fewer sequences than this gets a warning
SMALL_SPLIT = 30


def steps_per_epoch(trainer: L.Trainer) -> int:
    """Optimiser steps in one training epoch (at least 1)."""
    batches = trainer.num_training_batches
    if not isinstance(batches, int) or batches < 1:  # an unsized stream: no way to know
        return 1
    return max(1, batches // max(1, trainer.accumulate_grad_batches))


def steps_between_checks(trainer: L.Trainer) -> int | None:
    """Optimiser steps between two validation checks; None when validation never runs."""
    if not trainer.enable_validation or not sum(trainer.num_val_batches or [0]):
        return None
    per_epoch = steps_per_epoch(trainer)
    batch = trainer.val_check_batch
    if trainer.check_val_every_n_epoch is None or (isinstance(batch, int) and
                                                    batch < trainer.num_training_batches):
        steps = max(1, int(batch) // max(1, trainer.accumulate_grad_batches))
    else:
        steps = per_epoch * trainer.check_val_every_n_epoch
    if trainer.max_steps not in (-1, None) and trainer.max_steps < steps:
        return None
    return steps


def why_no_validation(trainer: L.Trainer) -> str:
    """What keeps validation from running, named by config key."""
    if trainer.limit_val_batches == 0:
        return "trainer.limit_val_batches=0"
    if not sum(trainer.num_val_batches or [0]):
        return "the val split is empty"
    return (f"trainer.max_steps={trainer.max_steps} ends training before the first validation "
            f"check")


class StepEarlyStopping(EarlyStopping):
    """Lightning's ``EarlyStopping`` whose patience is also counted in optimiser steps.

    Training stops once ``monitor`` has not improved for ``patience`` validation checks *and*
    ``patience_steps`` optimiser steps, and never before ``min_steps`` steps; with validation
    every epoch of 200 steps that is Lightning's rule, with one step per epoch (a small split) it
    waits ``patience_steps`` steps. When epochs have at most ``small_epoch`` steps it also
    replaces a default ``trainer.max_epochs`` that would stop before ``min_steps`` by an epoch
    limit of ``small_budget`` steps (:func:`extend_tiny_epochs`), and it warns about splits too
    small to trust. A check without ``monitor`` logged (no validation
    yet) is skipped; when validation never runs, early stopping is off and says why.
    """

    def __init__(self, monitor: str = "val/loss", patience: int = 5, patience_steps: int = 200,
                 min_steps: int = 300, small_epoch: int = 10, small_budget: int = 1000,
                 **kwargs: Any) -> None:
        check_int("callbacks.early_stopping.patience_steps", patience_steps, 0)
        check_int("callbacks.early_stopping.min_steps", min_steps, 0)
        check_int("callbacks.early_stopping.small_epoch", small_epoch, 1)
        check_int("callbacks.early_stopping.small_budget", small_budget, 1)
        super().__init__(monitor=monitor, patience=patience, strict=False, **kwargs)
        self.patience_checks, self.patience_steps, self.min_steps = patience, patience_steps, \
            min_steps
        self.small_epoch, self.small_budget, self.enabled = small_epoch, small_budget, True

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        warn_small_splits(trainer)
        extend_tiny_epochs(trainer, self.min_steps, self.small_epoch, self.small_budget)
        interval = steps_between_checks(trainer)
        self.enabled = interval is not None
        if interval is None:
            rank_zero_warn(f"early stopping on {self.monitor} is off: validation never runs "
                           f"({why_no_validation(trainer)})")
            return
        self.patience = max(self.patience_checks, math.ceil(self.patience_steps / interval))

    def _run_early_stopping_check(self, trainer: L.Trainer) -> None:
        if self.enabled and self.monitor in trainer.callback_metrics:
            super()._run_early_stopping_check(trainer)

    def _evaluate_stopping_criteria(self, current: Any) -> tuple[bool, str | None]:
        should_stop, reason = super()._evaluate_stopping_criteria(current)
        if should_stop and self._trainer_step < self.min_steps:
            return False, None
        return should_stop, reason

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        self._trainer = trainer

    @property
    def _trainer_step(self) -> int:
        trainer = getattr(self, "_trainer", None)
        return int(trainer.global_step) if trainer is not None else 0


def extend_tiny_epochs(trainer: L.Trainer, min_steps: int, small_epoch: int,
                       budget: int) -> None:
    """Raise ``trainer.max_epochs`` when a fit whose epochs have at most ``small_epoch``
    optimiser steps would stop before ``min_steps``: to ``max(budget, min_steps)`` steps, which
    early stopping ends sooner once the monitor stops improving. A ``trainer.max_epochs`` given
    on the command line, an epoch capped with ``trainer.limit_train_batches``, a
    ``trainer.max_steps`` or a debug run is left as set."""
    if trainer.fast_dev_run or trainer.overfit_batches or trainer.limit_train_batches != 1.0 \
            or trainer.max_steps not in (-1, None) or trainer.max_epochs in (-1, None):
        return
    loop = trainer.fit_loop
    per_epoch = steps_per_epoch(trainer)
    if per_epoch > small_epoch or per_epoch * loop.max_epochs >= min_steps or \
            max_epochs_given():
        return
    epochs = math.ceil(max(budget, min_steps) / per_epoch)
    rank_zero_warn(f"the training split gives {per_epoch} optimiser step(s) per epoch: "
                   f"trainer.max_epochs={loop.max_epochs} would stop after "
                   f"{per_epoch * loop.max_epochs}; training up to {epochs} epochs "
                   f"(callbacks.early_stopping.small_budget={budget} steps; early stopping ends "
                   f"it sooner, not before min_steps={min_steps}; set trainer.max_epochs to keep "
                   "an epoch limit)")
    loop.max_epochs = epochs


def max_epochs_given() -> bool:
    """Whether this Hydra run's command line sets ``trainer.max_epochs``."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return False
    overrides = HydraConfig.get().overrides.task
    return any(o.lstrip("+~").startswith("trainer.max_epochs=") for o in overrides)


def warn_small_splits(trainer: L.Trainer) -> None:
    """Warn for each split (train, val) holding fewer than :data:`SMALL_SPLIT` sequences."""
    loaders = {"train": trainer.train_dataloader, "val": trainer.val_dataloaders}
    for split, loader in loaders.items():
        loader = loader[0] if isinstance(loader, (list, tuple)) and loader else loader
        dataset = getattr(loader, "dataset", None)
        try:
            size = len(dataset) if dataset is not None else None
        except TypeError:  # an unsized stream
            size = None
        if size is None or size >= SMALL_SPLIT or not hasattr(dataset, "lengths"):
            continue
        rank_zero_warn(f"the {split} split holds only {size} sequences: its metrics move in steps "
                       f"of 1/{size} and early stopping on them is noisy; give more data (or "
                       "raise data.val_fraction for the val split) before trusting them")
