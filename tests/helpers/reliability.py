"""Shared pieces of the reliability tests: a tiny deterministic run and reading its results."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from seqlstm.cli.train import train
from seqlstm.configs import config_dir
from seqlstm.tasks import read_checkpoint


def tiny_run(text: Path, *extra: str) -> list[str]:
    """Overrides for a two-epoch, 12-step deterministic CPU run with dropout (so that the random
    state matters), a last.ckpt every 4 steps and a CSV log."""
    return ["data=char", f"data.path={text}", "data.seq_len=16", "data.batch_size=8",
            "data.windows_per_epoch=48", "model.encoder.hidden_size=16",
            "model.encoder.output_dropout=0.2", "trainer=deterministic", "trainer.max_epochs=2",
            "+trainer.limit_val_batches=2", "trainer.enable_progress_bar=false",
            "~callbacks.rich_progress_bar", "~callbacks.lr_monitor", "test=false",
            "sample.length=0", "callbacks.last_checkpoint.every_n_train_steps=4", *extra]


def stateful_run(text: Path, *extra: str) -> list[str]:
    """:func:`tiny_run` on contiguous streams with carried state (``data.stateful=true``)."""
    return [*(o for o in tiny_run(text, *extra) if not o.startswith("data.windows_per_epoch")),
            "data.stateful=true"]


def compose_in(compose: Callable[..., DictConfig], output_dir: Path,
               *overrides: str) -> DictConfig:
    """``compose(*overrides)`` with its outputs in ``output_dir``."""
    cfg = compose(*overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
    return cfg


def final_state(run_dir: Path) -> dict[str, Any]:
    """The last checkpoint of a run: weights, optimiser state and global step."""
    checkpoint = read_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    return {"state_dict": checkpoint["state_dict"],
            "optimizer": checkpoint["optimizer_states"][0]["state"],
            "global_step": checkpoint["global_step"]}


def val_losses(run_dir: Path) -> dict[int, str]:
    """``val/loss`` by epoch as logged (strings: compared exactly)."""
    with open(run_dir / "csv" / "metrics.csv", newline="") as stream:
        return {int(row["epoch"]): row["val/loss"] for row in csv.DictReader(stream)
                if row.get("val/loss")}


def assert_same_tensors(a: Any, b: Any) -> None:
    """Bitwise equality of nested dicts of tensors."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same_tensors(a[key], b[key])
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    else:
        assert a == b


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint of a tiny language model (trained once per test module)."""
    root = tmp_path_factory.mktemp("trained")
    text = root / "text.txt"
    text.write_text("the cat saw the dog by the river.\n" * 40, encoding="utf-8")
    overrides = [*tiny_run(text), "trainer.max_epochs=1", "data.windows_per_epoch=16"]
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.root_dir = str(root)
        cfg.paths.output_dir = str(root / "run")
        cfg.hydra.runtime.output_dir = str(root / "run")
    HydraConfig.instance().set_config(cfg)
    train(cfg)
    return root / "run" / "checkpoints" / "last.ckpt"
