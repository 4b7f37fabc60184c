"""Builders: the pieces of a run from a composed config (data, callbacks, loggers, trainer), and
a trained run rebuilt from its checkpoint alone (:func:`rebuild_from_checkpoint`)."""

from __future__ import annotations

import difflib
import inspect
import re
from typing import Any

import lightning as L
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger
from lightning.pytorch.plugins.io import CheckpointIO
from omegaconf import DictConfig

from seqlstm.checkpoint_io import SafeCheckpointIO
from seqlstm.configs import plain
from seqlstm.distributed import check_launch
from seqlstm.errors import CheckpointError, ConfigError, SeqlstmError
from seqlstm.targets import qualified_name, resolve_class
from seqlstm.tasks import SequenceTask, load_task


def build_datamodule(data_cfg: DictConfig | dict[str, Any],
                     **overrides: Any) -> L.LightningDataModule:
    """Instantiate a data config after checking its ``_target_`` is a LightningDataModule."""
    resolve_class(data_cfg.get("_target_", ""), L.LightningDataModule, "data._target_")
    return instantiate_checked(data_cfg, "data", **overrides, _convert_="all")


def instantiate_checked(config: Any, key: str = "", **kwargs: Any) -> Any:
    """Hydra's ``instantiate``, letting a constructor's :class:`SeqlstmError` through as itself
    (Hydra wraps every exception in ``InstantiationException``, hiding the one-line message);
    a key the constructor does not take (``++data.pth=x``) is refused by name as ``key.name``."""
    try:
        return instantiate(config, **kwargs)
    except InstantiationException as err:
        if isinstance(err.__cause__, SeqlstmError):
            raise err.__cause__ from None
        unknown = unknown_argument(err.__cause__, config, key)
        if unknown:
            raise unknown from None
        raise


def unknown_argument(cause: BaseException | None, config: Any, key: str) -> ConfigError | None:
    """The :class:`ConfigError` for a constructor's ``unexpected keyword argument`` (None for
    any other error), with the nearest argument it does take."""
    found = re.search(r"unexpected keyword argument '(\w+)'", str(cause)) \
        if isinstance(cause, TypeError) else None
    if not found:
        return None
    name, cls = found.group(1), resolve_class(config.get("_target_", ""), object, "_target_")
    taken = [arg for arg in inspect.signature(cls).parameters if arg not in ("self", "kwargs")]
    near = difflib.get_close_matches(name, taken, n=1, cutoff=0.6)
    where = f"{key}." if key else ""
    hint = f"did you mean '{where}{near[0]}'?" if near else f"it takes {taken}"
    return ConfigError(f"{where}{name}", f"a key {cls.__name__} takes ({hint})",
                       config.get(name))


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
    """The trainer of ``cfg.trainer`` with these callbacks and loggers (``overrides`` replace
    trainer options; :mod:`seqlstm.validation` has checked its strategy and devices); checkpoints
    go through :class:`SafeCheckpointIO` unless the config names another checkpoint I/O plugin.
    """
    plugins = list(instantiate(cfg.trainer.get("plugins")) or [])
    if not any(isinstance(plugin, CheckpointIO) for plugin in plugins):
        plugins.append(SafeCheckpointIO())
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False,
                          plugins=plugins, **overrides)
    check_launch(trainer)
    return trainer


def _build(entry: DictConfig, base: type, key: str) -> Any:
    if "_target_" not in entry:
        raise ConfigError(f"{key}._target_", "a class path", None)
    resolve_class(entry["_target_"], base, f"{key}._target_")
    try:
        return instantiate_checked(entry)
    except ConfigError as err:
        raise err.within(key) from None


def rebuild_from_checkpoint(ckpt_path: str, command: str, needs: str | None = None,
                            **data_overrides: Any) -> tuple[SequenceTask, L.LightningDataModule]:
    """The task saved at ``ckpt_path`` and its data module, rebuilt from the checkpoint's data
    record with the fitted state of its spec (vocabulary, scalers, labels), so new data is read
    exactly as the training data was. ``data_overrides`` replace keys of the data config
    (``path``, ``predict_path``, ``batch_size``...; None values are left out); ``command``
    names what the rebuild is for in errors (``evaluate``, ``predict``...); ``needs`` names a
    method the data module class must have for it, checked before any data is read."""
    task = load_task(ckpt_path, SequenceTask)
    record = dict(task.hparams.get("data") or {})
    if not record:
        raise CheckpointError(f"{ckpt_path}: records no data config to {command}")
    data_class = resolve_class(record.get("_target_", ""), L.LightningDataModule, "data._target_")
    if needs and not hasattr(data_class, needs):
        raise CheckpointError(f"{ckpt_path}: its data module {record['_target_']} does not "
                              f"{command} (it has no {needs})")
    fitted: dict[str, Any] = {}
    if task.spec.vocab is not None:
        fitted["vocab"] = task.spec.vocab
    if task.spec.extra:
        fitted["fitted"] = task.spec.extra
    overrides = {key: value for key, value in data_overrides.items() if value is not None}
    return task, build_datamodule({**record, **fitted, **overrides})


def inference_trainer(trainer_cfg: Any) -> L.Trainer:
    """A bare trainer for evaluation and prediction: no logger, checkpoints or progress bar."""
    return L.Trainer(accelerator=trainer_cfg.accelerator, devices=trainer_cfg.devices,
                     logger=False, enable_checkpointing=False, enable_progress_bar=False)
