"""Building the pieces of a run from a composed config: data, task, callbacks, loggers, trainer."""

from __future__ import annotations

from typing import Any

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig

from seqlstm.configs import plain
from seqlstm.errors import ConfigError
from seqlstm.targets import qualified_name, resolve_class


def build_datamodule(data_cfg: DictConfig | dict[str, Any],
                     **overrides: Any) -> L.LightningDataModule:
    """Instantiate a data config after checking its ``_target_`` is a LightningDataModule."""
    resolve_class(data_cfg.get("_target_", ""), L.LightningDataModule, "data._target_")
    return instantiate(data_cfg, **overrides, _convert_="all")


def data_record(datamodule: L.LightningDataModule) -> dict[str, Any]:
    """The data module as plain data: its class and constructor arguments (for checkpoints)."""
    return {"_target_": qualified_name(type(datamodule)), **plain(dict(datamodule.hparams))}


def build_callbacks(cfg: DictConfig | None) -> list[L.Callback]:
    return [_build(entry, L.Callback, f"callbacks.{name}")
            for name, entry in (cfg or {}).items() if entry]


def build_loggers(cfg: DictConfig | None) -> list[Logger]:
    return [_build(entry, Logger, f"logger.{name}") for name, entry in (cfg or {}).items() if entry]


def build_trainer(cfg: DictConfig, callbacks: list[L.Callback], loggers: list[Logger],
                  **overrides: Any) -> L.Trainer:
    """``cfg.trainer`` with these callbacks and loggers; ``overrides`` replace trainer options."""
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, **overrides)


def _build(entry: DictConfig, base: type, key: str) -> Any:
    if "_target_" not in entry:
        raise ConfigError(f"{key}._target_", "a class path", None)
    resolve_class(entry["_target_"], base, f"{key}._target_")
    return instantiate(entry)
