"""Weights & Biases logging: offline unless an API key is present, grouped multiruns.

``wandb`` itself is imported only when this logger starts a run, so choosing ``logger=csv``
never loads it.
"""

from __future__ import annotations

import netrc
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.loggers import Logger
from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger
from lightning.pytorch.utilities import rank_zero_only

from seqlstm.errors import ConfigError

WATCH_KINDS = ("gradients", "parameters", "all")
MODES = ("online", "offline", "disabled")


def has_api_key() -> bool:
    """Whether W&B credentials are at hand: ``WANDB_API_KEY`` or a ``wandb login`` netrc entry."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host or "") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def choose_mode(mode: str | None) -> tuple[str, str | None]:
    """The W&B mode to use and, when it was chosen for the user, the one line that says why."""
    if mode is None:
        mode = os.environ.get("WANDB_MODE") or None
    if mode is not None:
        if mode not in MODES:
            raise ConfigError("logger.wandb.mode", f"one of {list(MODES)} or null", mode)
        return mode, None
    if has_api_key():
        return "online", None
    return "offline", ("wandb: no API key (WANDB_API_KEY or `wandb login`), logging offline; "
                       "upload later with `wandb sync <run folder>/wandb/offline-run-*`")


def sweep_group_and_name(task_name: str) -> tuple[str | None, str | None]:
    """``(group, name)`` for runs started by Hydra: a multirun's trials share the sweep folder's
    name as their group and are named by their job number."""
    if not HydraConfig.initialized():
        return None, None
    hydra = HydraConfig.get()
    if hydra.mode != RunMode.MULTIRUN:
        return None, None
    return f"{task_name}-{Path(hydra.sweep.dir).name}", f"{task_name}-{hydra.job.num}"


class WandbLogger(LightningWandbLogger):
    """Lightning's W&B logger with seqlstm's defaults.

    Args:
        project, entity, tags, group, name: where the run goes and how it is labelled; a
            multirun's trials get the sweep as their ``group`` unless one is given.
        mode: ``online``, ``offline``, ``disabled``; None: ``WANDB_MODE`` if set, else online
            when an API key is found and offline (said in one line) otherwise.
        watch: ``gradients``, ``parameters`` or ``all`` to log histograms with ``wandb.watch``.
        watch_log_freq: steps between those histograms.
        log_model: upload checkpoints as artifacts: False, True (at the end) or ``all``.
        task_name: labels the group of a multirun.
        **kwargs: passed to Lightning's ``WandbLogger`` and on to ``wandb.init``.
    """

    def __init__(self, project: str = "seqlstm", entity: str | None = None,
                 tags: list[str] | None = None, group: str | None = None,
                 name: str | None = None, mode: str | None = None, watch: str | None = None,
                 watch_log_freq: int = 100, log_model: bool | str = False,
                 task_name: str = "train", **kwargs: Any) -> None:
        if watch is not None and watch not in WATCH_KINDS:
            raise ConfigError("logger.wandb.watch", f"one of {list(WATCH_KINDS)} or null", watch)
        if log_model not in (False, True, "all"):
            raise ConfigError("logger.wandb.log_model", "false, true or 'all'", log_model)
        mode, notice = choose_mode(mode)
        if notice:
            rank_zero_only(print)(notice, file=sys.stderr)
        sweep_group, sweep_name = sweep_group_and_name(task_name)
        super().__init__(project=project, entity=entity, tags=list(tags or []),
                         group=group or sweep_group, name=name or sweep_name, mode=mode,
                         log_model=log_model, **kwargs)
        self.mode = mode
        self._watch = watch
        self._watch_log_freq = watch_log_freq
        self._watched = False

    def log_graph(self, model: Any, input_array: Any = None) -> None:
        """Called by Lightning as each of fit, validate and test starts: begin ``wandb.watch``
        the first time, if asked (W&B refuses to watch a model twice)."""
        if self._watch and not self._watched:
            self.watch(model, log=self._watch, log_freq=self._watch_log_freq)
            self._watched = True


def finish_runs(loggers: Sequence[Logger], failed: bool = False) -> None:
    """End the W&B run of any W&B logger in ``loggers`` (rank zero), so the next run of a
    multirun starts a fresh one instead of logging into this one."""
    for logger in loggers:
        if isinstance(logger, LightningWandbLogger) and logger._experiment is not None \
                and rank_zero_only.rank == 0:
            logger._experiment.finish(exit_code=1 if failed else 0)
            _reset_watch_index()


def _reset_watch_index() -> None:
    """wandb numbers every model it watches in a process and prefixes the charts of all but
    the first (``gradients/graph_1encoder...``); start each run at zero so the trials of a
    multirun log under the same names."""
    from wandb.sdk import wandb_watch

    if hasattr(wandb_watch, "_global_watch_idx"):
        wandb_watch._global_watch_idx = 0
