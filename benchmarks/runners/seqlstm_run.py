"""Composing a ``seqlstm-train`` config inside a runner, as the CLI would (seqlstm runners only)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from seqlstm import runtime
from seqlstm.configs import config_dir


def compose_run(overrides: list[str], out: Path) -> DictConfig:
    """``conf/train.yaml`` with ``overrides``, every output under ``out``, Hydra's runtime
    config set (for ``${hydra:...}`` interpolations), its ``runtime`` applied and everything
    seeded with ``seed``."""
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.root_dir = cfg.paths.output_dir = cfg.hydra.runtime.output_dir = str(out)
    HydraConfig.instance().set_config(cfg)
    runtime.apply(cfg.get("runtime"))  # as the console scripts' entry does
    L.seed_everything(cfg.seed, verbose=False)
    return cfg
