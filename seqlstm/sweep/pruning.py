"""Pruning from inside training: the validation metric goes to the Optuna trial every epoch."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import lightning as L
import optuna
from hydra.utils import instantiate
from optuna.trial import TrialState

from seqlstm.errors import ConfigError
from seqlstm.sweep.study import PRUNER_ATTR, open_storage
from seqlstm.targets import resolve_class

KEY = "callbacks.optuna_pruning"


class OptunaPruning(L.Callback):
    """Reports ``monitor`` to the trial after each validation; stops training when the study's
    pruner says so, and records the trial as PRUNED.

    The sweeper hands each job its trial as plain data (``optuna_trial``: storage URL, study
    name, trial number); the job reopens the study, so this works in any launcher's process
    and under DDP, where rank 0 alone talks to the database and broadcasts the decision.

    Args:
        trial: ``{storage, study_name, number}``, or None outside a sweep (then it does nothing).
        monitor: the logged metric to report (the swept one).
    """

    def __init__(self, trial: Mapping[str, Any] | None = None, monitor: str = "val/loss") -> None:
        # no storage: an in-memory study that this process cannot reopen, so nothing to report
        self.trial_info = dict(trial) if trial and trial.get("storage") else None
        if self.trial_info is not None:
            missing = {"storage", "study_name", "number"} - set(self.trial_info)
            if missing:
                raise ConfigError(f"{KEY}.trial", f"a mapping with {sorted(missing)} too",
                                  self.trial_info)
        self.monitor = monitor
        self.pruned_at: int | None = None
        self._trial: optuna.trial.Trial | None = None
        self._storage: optuna.storages.RDBStorage | None = None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.trial_info is None or trainer.sanity_checking:
            return
        prune = False
        if trainer.is_global_zero:
            value = trainer.callback_metrics.get(self.monitor)
            if value is None:
                raise ConfigError(f"{KEY}.monitor", "one of the logged metrics "
                                  f"{sorted(trainer.callback_metrics)}", self.monitor)
            value = float(value)
            trial = self.trial
            trial.report(value, step=trainer.current_epoch)
            prune = math.isnan(value) or trial.should_prune()
        if trainer.strategy.broadcast(prune, src=0):
            self.pruned_at = trainer.current_epoch
            trainer.should_stop = True

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.pruned_at is not None and trainer.is_global_zero:
            self.trial.study.tell(self.trial_info["number"], state=TrialState.PRUNED)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """Close the trial's database connections: a worker runs many trials in one process,
        and a server allows only so many clients."""
        if self._storage is not None:
            self._storage.engine.dispose()
        self._storage = self._trial = None

    @property
    def trial(self) -> optuna.trial.Trial:
        """The running trial, reopened from storage with the study's pruner (rank 0 only)."""
        if self._trial is None:
            info = self.trial_info
            self._storage = storage = open_storage(info["storage"])
            study = optuna.load_study(study_name=info["study_name"], storage=storage)
            study.pruner = build_pruner(study.user_attrs.get(PRUNER_ATTR))
            study_id = storage.get_study_id_from_name(info["study_name"])
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, info["number"])
            self._trial = optuna.trial.Trial(study, trial_id)
        return self._trial


def build_pruner(config: Mapping[str, Any] | None) -> optuna.pruners.BasePruner:
    """The pruner of a ``_target_`` config; None means never prune."""
    if not config:
        return optuna.pruners.NopPruner()
    resolve_class(config.get("_target_", ""), optuna.pruners.BasePruner,
                  "hydra.sweeper.pruner._target_")
    return instantiate(dict(config))
