"""Refusing trainer settings that cannot run here, before training starts."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.strategies import Strategy, StrategyRegistry
from lightning.pytorch.strategies.launchers.subprocess_script import _SubprocessScriptLauncher
from omegaconf import ListConfig

from seqlstm.distributed.threads import usable_cores
from seqlstm.errors import ConfigError, is_int
from seqlstm.targets import resolve_class


def check_trainer_config(trainer: Any) -> None:
    """``trainer.strategy`` must be known and ``trainer.devices`` must exist on this machine."""
    strategy = trainer.get("strategy", "auto")
    if isinstance(strategy, str):
        known = ["auto", *StrategyRegistry.available_strategies()]
        if strategy not in known:
            raise ConfigError("trainer.strategy", f"one of {known}", strategy)
    elif strategy is not None and "_target_" in strategy:
        resolve_class(strategy["_target_"], Strategy, "trainer.strategy._target_")
    accelerator, devices = trainer.get("accelerator", "auto"), trainer.get("devices", "auto")
    available, kind = _available(accelerator)
    if available == 0:
        raise ConfigError("trainer.accelerator", "cpu or auto: no CUDA GPU is visible here "
                          "(trainer=ddp_cpu trains with 2 CPU processes)", accelerator)
    wanted = _count(devices)
    if wanted is not None and available is not None and wanted > available:
        raise ConfigError("trainer.devices", f"at most {available} ({kind} available here)",
                          devices)


def check_launch(trainer: L.Trainer) -> None:
    """Refuse ``strategy=ddp`` with several processes inside a Hydra multirun.

    Lightning starts the other ranks by running this command again, ``-m`` and the sweep
    included, so every rank would start its own sweep. ``ddp_spawn`` starts ranks in-process.
    """
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return
    strategy = trainer.strategy
    if (isinstance(strategy.launcher, _SubprocessScriptLauncher)
            and not strategy.cluster_environment.creates_processes_externally
            and trainer.num_devices > 1):
        raise ConfigError("trainer.strategy", "ddp_spawn inside a Hydra multirun (-m): ddp "
                          "relaunches the whole command, sweep included, on every rank; use "
                          "trainer=ddp_spawn (on CPU: trainer=ddp_spawn trainer.accelerator=cpu "
                          "trainer.devices=2)", "ddp")


def _available(accelerator: str) -> tuple[int | None, str]:
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        return torch.cuda.device_count(), "CUDA GPUs"
    if accelerator in ("cpu", "auto"):
        return usable_cores(), "CPU cores, one process each"
    return None, accelerator


def _count(devices: Any) -> int | None:
    """How many devices ``devices`` asks for on each machine (None: 'auto' or -1, all)."""
    if isinstance(devices, str) and devices.strip().lstrip("-").isdigit():
        devices = int(devices)
    elif isinstance(devices, str) and devices != "auto":
        devices = [d for d in devices.split(",") if d.strip()]
    if isinstance(devices, (list, tuple, ListConfig)):
        return len(devices)
    if devices in ("auto", -1):
        return None
    if not is_int(devices) or devices < 1:
        raise ConfigError("trainer.devices", "an integer >= 1, a list of ids, 'auto' or -1",
                          devices)
    return devices
