"""One check of a composed config before any heavy work (reading data, building models).

Each check raises :class:`ConfigError` naming the dotted key, the allowed values and what was
given. Components still check their own arguments when built from Python; this layer makes the
command-line paths fail in milliseconds instead of after a corpus has been read, and adds the
rules that span keys (a deterministic run needs a seed, devices vs what the machine has).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L
import torch

from seqlstm.configs import plain
from seqlstm.distributed import check_trainer_config
from seqlstm.errors import ConfigError, check_int, check_number, is_int
from seqlstm.nn import EncoderConfig
from seqlstm.targets import resolve_class
from seqlstm.tasks import SequenceTask
from seqlstm.tasks.language_model import check_sampling

ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
PRECISIONS = ("64", "64-true", "32", "32-true", "16", "16-mixed", "16-true", "bf16",
              "bf16-mixed", "bf16-true", "transformer-engine", "transformer-engine-float16")


def validate_train(cfg: Mapping[str, Any]) -> None:
    """Check a composed ``train.yaml`` config."""
    seed = cfg.get("seed")
    if seed is not None:
        check_int("seed", seed, 0)
    trainer = plain(cfg["trainer"])
    check_trainer(trainer)
    if trainer.get("deterministic") is True and seed is None:
        raise ConfigError("seed", "an integer when trainer.deterministic is true", seed)
    check_model(plain(cfg["model"]))
    check_data(plain(cfg["data"]))
    sample = plain(cfg.get("sample")) or {}
    check_int("sample.length", sample.get("length", 0), low=0)
    _within("sample", check_sampling, sample.get("temperature", 1.0), None, None)


def validate_eval(cfg: Mapping[str, Any]) -> None:
    """Check a composed ``eval.yaml`` config."""
    check_trainer(plain(cfg["trainer"]))
    if cfg.get("batch_size") is not None:
        check_int("batch_size", cfg["batch_size"], 1)


def validate_generate(cfg: Mapping[str, Any]) -> None:
    """Check a composed ``generate.yaml`` config."""
    if not isinstance(cfg.get("prompt"), str) or not cfg["prompt"]:
        raise ConfigError("prompt", "a non-empty string", cfg.get("prompt"))
    check_int("length", cfg["length"], 0)
    check_int("num_samples", cfg["num_samples"], 1)
    if cfg.get("seed") is not None:
        check_int("seed", cfg["seed"], 0)
    check_sampling(cfg["temperature"], cfg.get("top_k"), cfg.get("top_p"))


def check_trainer(trainer: Mapping[str, Any]) -> None:
    """Accelerator, devices (against what this machine has), precision, epochs, clipping."""
    accelerator = str(trainer.get("accelerator", "auto"))
    if accelerator not in ACCELERATORS:
        raise ConfigError("trainer.accelerator", f"one of {list(ACCELERATORS)}", accelerator)
    check_trainer_config(trainer)  # strategy, and devices against what this machine has
    precision = str(trainer.get("precision", "32"))
    if precision not in PRECISIONS:
        raise ConfigError("trainer.precision", f"one of {list(PRECISIONS)}", trainer["precision"])
    max_epochs = trainer.get("max_epochs")
    if max_epochs is not None and not (is_int(max_epochs) and (max_epochs >= 1 or
                                                                 max_epochs == -1)):
        raise ConfigError("trainer.max_epochs", "an integer >= 1, or -1 for no limit", max_epochs)
    clip = trainer.get("gradient_clip_val")
    check_number("trainer.gradient_clip_val", clip, 0, optional=True)
    if trainer.get("deterministic", False) not in (True, False, "warn"):
        raise ConfigError("trainer.deterministic", "true, false or 'warn'",
                          trainer["deterministic"])


def check_model(model: Mapping[str, Any]) -> None:
    """Task class, encoder hyperparameters, embedding and optimiser/scheduler targets."""
    resolve_class(model.get("_target_", ""), SequenceTask, "model._target_")
    encoder = dict(model.get("encoder") or {})
    unknown = sorted(set(encoder) - set(EncoderConfig.__dataclass_fields__))
    if unknown:
        raise ConfigError(f"model.encoder.{unknown[0]}", "absent (encoder keys: "
                          f"{sorted(EncoderConfig.__dataclass_fields__)})", encoder[unknown[0]])
    _within("model.encoder", EncoderConfig, **encoder)
    check_int("model.embedding_dim", model.get("embedding_dim", 1), low=1)
    dropout = model.get("embedding_dropout", 0.0)
    check_number("model.embedding_dropout", dropout, 0, 1, high_open=True)
    optimizer = model.get("optimizer")
    if optimizer:
        resolve_class(optimizer.get("_target_", ""), torch.optim.Optimizer,
                      "model.optimizer._target_")
        lr = optimizer.get("lr", 1.0)
        check_number("model.optimizer.lr", lr, 0, low_open=True)
    if model.get("scheduler"):
        resolve_class(model["scheduler"].get("_target_", ""),
                      torch.optim.lr_scheduler.LRScheduler, "model.scheduler._target_")


def check_data(data: Mapping[str, Any]) -> None:
    """The data module class and the sizes every data module shares."""
    resolve_class(data.get("_target_", ""), L.LightningDataModule, "data._target_")
    for key in ("seq_len", "batch_size"):
        if key in data:
            check_int(f"data.{key}", data[key], 1)
    if "num_workers" in data:
        check_int("data.num_workers", data["num_workers"], low=0)


def _within(prefix: str, check: Any, *args: Any, **kwargs: Any) -> None:
    """Run ``check``; a :class:`ConfigError` it raises gets its key prefixed."""
    try:
        check(*args, **kwargs)
    except ConfigError as err:
        raise err.within(prefix) from None
