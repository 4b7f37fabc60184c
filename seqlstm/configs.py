"""Where seqlstm's Hydra config tree lives, and converting configs to plain data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

_PACKAGE = Path(__file__).resolve().parent


def config_dir() -> Path:
    """The ``conf/`` tree: inside the installed package (wheels carry it as ``seqlstm/conf``)
    or at the repository root in a source checkout."""
    packaged = _PACKAGE / "conf"
    return packaged if packaged.is_dir() else _PACKAGE.parent / "conf"


def plain(value: Any) -> Any:
    """A resolved config as plain dicts and lists (what checkpoints may hold)."""
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value
