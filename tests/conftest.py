"""Shared fixtures: small corpora, composed configs and a CLI runner."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from seqlstm.configs import config_dir

REPO_ROOT = Path(__file__).resolve().parents[1]
SHAKESPEARE = REPO_ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"

#: settings that make any composed training config fast, quiet and self-contained
FAST = [
    "trainer.max_epochs=1",
    "+trainer.limit_train_batches=3",
    "+trainer.limit_val_batches=2",
    "+trainer.limit_test_batches=2",
    "trainer.enable_progress_bar=false",
    "sample.length=10",
]
#: FAST for a run that keeps the default callbacks (checkpoints) but not the progress bar
FAST_WITH_CALLBACKS = [*FAST, "~callbacks.rich_progress_bar"]

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def fresh_logging():
    """Each test starts with seqlstm's loggers as a fresh process has them: runs in this
    process (Hydra's logging config, ``quiet=true``) change levels, disable loggers and stop
    propagation, which would hide the records ``caplog`` checks in later tests."""
    logging.disable(logging.NOTSET)
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if name.startswith("seqlstm") and isinstance(logger, logging.Logger):
            logger.disabled, logger.propagate = False, True
            logger.setLevel(logging.NOTSET)
    yield


@pytest.fixture
def small_text(tmp_path: Path) -> Path:
    """A ~6 KB English text with a small vocabulary."""
    lines = [f"the {animal} saw {count} {thing} by the river.\n"
             for count, (animal, thing) in enumerate(
                 [("cat", "birds"), ("dog", "boats"), ("fox", "stars"), ("owl", "trees")] * 40)]
    path = tmp_path / "small.txt"
    path.write_text("".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def shakespeare() -> Path:
    if not SHAKESPEARE.is_file():
        pytest.skip(f"{SHAKESPEARE} is absent (the shared data folder is not laid out here)")
    return SHAKESPEARE


@pytest.fixture
def compose_train(tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose ``conf/train.yaml`` with overrides, outputs under ``tmp_path``."""

    def _compose(*overrides: str, config_name: str = "train") -> DictConfig:
        with initialize_config_dir(str(config_dir()), version_base="1.3"):
            cfg = compose(config_name, overrides=list(overrides), return_hydra_config=True)
        with open_dict(cfg):
            cfg.paths.root_dir = str(tmp_path)
            cfg.paths.output_dir = str(tmp_path / "run")
            cfg.hydra.runtime.output_dir = str(tmp_path / "run")
        HydraConfig.instance().set_config(cfg)
        return cfg

    return _compose


def run_cli(module: str, *args: str, cwd: Path, check: bool = True, timeout: float = 600,
            extra_path: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m seqlstm.cli.<module> args`` in ``cwd`` with this checkout (and
    ``extra_path``) importable."""
    paths = [str(REPO_ROOT), *([str(extra_path)] if extra_path else []),
             os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "OMP_NUM_THREADS": "1",
           "HYDRA_FULL_ERROR": "0"}
    result = subprocess.run([sys.executable, "-m", f"seqlstm.cli.{module}", *args], cwd=cwd,
                            env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"seqlstm.cli.{module} failed ({result.returncode}):\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result
