"""A Hydra Sweeper over an Optuna study in shared storage, with pruning from inside training.

The body of ``hydra/sweeper=seqlstm_optuna``; Hydra finds plugins only in the ``hydra_plugins``
namespace, so ``hydra_plugins/seqlstm_optuna_sweeper`` holds a thin subclass and registers the
config. (This module imports neither Optuna nor Lightning: Hydra's plugin scan imports it.)

Each worker (``seqlstm-train -m hparams_search=...``) opens or creates the study, asks it for
trials until the study holds ``n_trials`` of them, launches each as a Hydra job with
``optuna_trial={storage, study_name, number}`` added (the pruning callback reopens the trial
from it), and tells the study the job's return value, or FAIL with the job's error. Workers
on other machines join by naming the same storage and study; a restarted worker resumes.

Optuna is imported only when a sweep starts, so Hydra's plugin scan stays cheap.
"""

import logging
import math
import os
import socket
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


#: the plugin class Hydra instantiates (a subclass of :class:`OptunaSweeper`)
PLUGIN = "hydra_plugins.seqlstm_optuna_sweeper.seqlstm_optuna_sweeper.SeqlstmOptunaSweeper"


@dataclass
class OptunaSweeperConf:
    """``hydra.sweeper`` of ``hydra/sweeper=seqlstm_optuna``."""

    _target_: str = PLUGIN
    # sampler and pruner stay configs: the sampler needs the search space, jobs need the pruner
    _recursive_: bool = False
    study_name: str = "seqlstm"
    # any SQLAlchemy URL (sqlite:///path.db, postgresql://user@host/db); null: in memory
    storage: Any = None
    direction: str = "minimize"
    # trials in the whole study, over every worker
    n_trials: int = 10
    # trials launched together (the launcher runs them: joblib in parallel, submitit on SLURM)
    n_jobs: int = 1
    sampler: Any = field(default_factory=lambda: {
        "_target_": "optuna.samplers.TPESampler", "seed": 1234})
    # e.g. {_target_: optuna.pruners.MedianPruner, n_warmup_steps: 1}; null: never prune
    pruner: Any = None
    # swept key -> {type: float|int|categorical, low, high, log, step, choices} or a Hydra sweep
    params: Any = field(default_factory=dict)
    # seconds between a running trial's heartbeats; after grace_period (default 2x) without
    # one, another worker fails the trial and its budget goes back to the study
    heartbeat_interval: int = 60
    grace_period: Any = None
    # times a trial whose worker died is run again, same parameters, by the next worker that
    # asks (0: its budget goes back to the study and the sampler draws a new trial)
    retry_failed: int = 0


class OptunaSweeper(Sweeper):
    """Asks the study for trials, launches them as Hydra jobs and tells it their results."""

    def __init__(self, study_name: str, storage: str | None, direction: str, n_trials: int,
                 n_jobs: int, sampler: Any, pruner: Any, params: Any, heartbeat_interval: int,
                 grace_period: int | None, retry_failed: int = 0) -> None:
        self.study_name, self.storage_url, self.direction = study_name, storage, direction
        self.n_trials, self.n_jobs = n_trials, n_jobs
        self.sampler_cfg, self.pruner_cfg = _plain(sampler), _plain(pruner)
        self.params = _plain(params) or {}
        self.heartbeat_interval, self.grace_period = heartbeat_interval, grace_period
        self.retry_failed = retry_failed
        self.job_idx = 0

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        from seqlstm.cli.entry import exit_bad_input
        from seqlstm.errors import SeqlstmError

        try:
            self._sweep(arguments)
        except SeqlstmError as err:  # bad search config or storage: one line, before any trial
            exit_bad_input(err)

    def _sweep(self, arguments: list[str]) -> None:
        # imported here: optuna is an optional dependency (the `sweep` extra)
        import optuna

        from seqlstm.errors import ConfigError
        from seqlstm.sweep import distributions, open_study, write_summary
        from seqlstm.sweep.pruning import build_pruner
        from seqlstm.sweep.study import PRUNER_ATTR, absolute_url, open_storage

        # heartbeats and fail_stale_trials are stable in use but still flagged experimental, and
        # this sweeper records the heartbeats that Study.optimize would (see study.heartbeat)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        self.storage_url = absolute_url(self.storage_url)
        for key, value, least in (("n_trials", self.n_trials, 1), ("n_jobs", self.n_jobs, 1),
                                  ("retry_failed", self.retry_failed, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(f"hydra.sweeper.{key}", f"an integer >= {least}", value)
        fixed, swept = self._split(arguments)
        space = distributions({**{key: spec for key, spec in self.params.items()
                                  if key not in fixed}, **swept})
        if not space:
            raise ConfigError("hydra.sweeper.params", "at least one swept key", {})
        sampler, budget = self._sampler(space)
        if self.pruner_cfg and not self.storage_url:
            raise ConfigError("hydra.sweeper.storage", "a database URL when hydra.sweeper.pruner "
                              "is set (each job reopens its trial from it)", self.storage_url)
        storage = open_storage(self.storage_url, self.heartbeat_interval if self.storage_url
                               else None, self.grace_period, self.retry_failed)
        study = open_study(self.study_name, storage, self.direction, sampler,
                           build_pruner(self.pruner_cfg))
        study.set_user_attr(PRUNER_ATTR, self.pruner_cfg)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        log.info("study '%s' in %s: %d trials over %s", self.study_name,
                 self.storage_url or "memory", budget, sorted(space))
        while True:
            batch = self._ask(study, storage, space, budget)
            if batch:
                self._run(study, storage, batch, fixed)
            elif not self._wait_for_others(study):
                break
        summary = write_summary(study, Path(self.config.hydra.sweep.dir))
        log.info("best value %s with %s (summary: %s)", summary.get("best_value"),
                 summary.get("best_params"), self.config.hydra.sweep.dir)

    # -- the pieces --------------------------------------------------------------------------
    def _split(self, arguments: list[str]) -> tuple[dict[str, str], dict[str, str]]:
        """Command-line overrides by key: sweeps join the search space; fixed ones go to every
        job and take their key out of the search space."""
        fixed, swept = {}, {}
        for override in OverridesParser.create().parse_overrides(arguments):
            if override.is_sweep_override():
                swept[override.get_key_element()] = override.get_value_string()
            else:
                fixed[override.key_or_group] = override.input_line
        return fixed, swept

    def _sampler(self, space: dict[str, Any]) -> tuple[Any, int]:
        """The sampler of ``hydra.sweeper.sampler`` and the trial budget (a grid caps it)."""
        import optuna
        from hydra.utils import instantiate

        from seqlstm.sweep import grid_space
        from seqlstm.targets import resolve_class

        config = dict(self.sampler_cfg or {"_target_": "optuna.samplers.TPESampler"})
        cls = resolve_class(config.get("_target_", ""), optuna.samplers.BaseSampler,
                            "hydra.sweeper.sampler._target_")
        if not issubclass(cls, optuna.samplers.GridSampler):
            return instantiate(config), self.n_trials
        grid = grid_space(space)
        return instantiate(config, search_space=grid), min(
            self.n_trials, math.prod(len(values) for values in grid.values()))

    def _ask(self, study: Any, storage: Any, space: dict[str, Any], budget: int) -> list[Any]:
        """Up to ``n_jobs`` new trials, while the study's budget lasts."""
        import optuna

        from seqlstm.sweep.study import (
            adopt_orphans,
            budget_lock,
            record_heartbeats,
            trial_budget_used,
        )

        optuna.storages.fail_stale_trials(study)
        with budget_lock(self.storage_url, storage, self.study_name):
            adopt_orphans(storage, self.study_name)  # a dead worker's trial with no heartbeat
            # a waiting trial (a dead worker's retry) counts towards the budget, and asking
            # takes it up instead of adding a trial
            waiting = sum(t.state == optuna.trial.TrialState.WAITING
                          for t in study.get_trials(deepcopy=False))
            left = budget - trial_budget_used(study) + waiting
            batch = []
            for _ in range(max(0, min(self.n_jobs, left))):
                batch.append(study.ask(space))  # its first heartbeat at once, under the lock
                record_heartbeats(storage, self.study_name, [batch[-1].number])
        for trial in batch:
            trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        return batch

    def _wait_for_others(self, study: Any) -> bool:
        """With the budget spent, whether trials of other workers still run or wait to be
        retried: then wait a heartbeat and ask again, for a trial of a worker that died is
        failed once its grace period passes and its budget (or its retry) goes to whoever asks
        next. False: the
        study is done."""
        from optuna.trial import TrialState

        if not any(t.state in (TrialState.RUNNING, TrialState.WAITING)
                   for t in study.get_trials(deepcopy=False)):
            return False
        time.sleep(min(self.heartbeat_interval, 10))
        return True

    def _run(self, study: Any, storage: Any, batch: list[Any], fixed: dict[str, str]) -> None:
        from seqlstm.sweep.study import heartbeat

        jobs = [[*fixed.values(), *(f"{name}={_value(v)}" for name, v in trial.params.items()),
                 "+optuna_trial=" + _value({"storage": self.storage_url or "",
                                            "study_name": self.study_name,
                                            "number": trial.number})]
                for trial in batch]
        with heartbeat(storage, self.study_name, [trial.number for trial in batch]):
            returns = self.launcher.launch(jobs, initial_job_idx=self.job_idx)
        self.job_idx += len(batch)
        for trial, ret in zip(batch, returns, strict=True):
            self._tell(study, trial, ret)

    def _tell(self, study: Any, trial: Any, ret: JobReturn) -> None:
        """The job's result into the study: its value, or FAIL with its error; a trial the job
        pruned itself is already finished."""
        from optuna.trial import TrialState

        from seqlstm.sweep.study import ERROR_ATTR

        if study.get_trials(deepcopy=False)[trial.number].state.is_finished():
            log.info("trial %d: pruned", trial.number)
            return
        try:
            value = ret.return_value  # raises the job's exception when it failed
            error = None if isinstance(value, (int, float)) and not math.isnan(value) \
                else f"the job returned {value!r}, not a number"
        except Exception as err:
            error = f"{type(err).__name__}: {err}"
        if error is None:
            _tell_study(study, trial, float(value))
            log.info("trial %d: %s with %s", trial.number, value, trial.params)
            return
        trial.set_user_attr(ERROR_ATTR, error)
        _tell_study(study, trial, state=TrialState.FAIL)
        log.warning("trial %d failed: %s", trial.number, error)


def _tell_study(study: Any, trial: Any, *args: Any, **kwargs: Any) -> None:
    """``study.tell``. The GridSampler ends a study on its last grid point by calling
    ``study.stop()``, which Optuna refuses outside ``study.optimize``; the trial is recorded
    before that, and the sweeper's own budget ends the sweep."""
    try:
        study.tell(trial, *args, **kwargs)
    except RuntimeError as err:
        if "Study.stop" not in str(err):
            raise


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def _value(value: Any) -> str:
    """``value`` in Hydra's override grammar (strings quoted, so any character is safe)."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "null" if value is None else str(value).lower() if isinstance(value, bool) \
        else repr(value)
