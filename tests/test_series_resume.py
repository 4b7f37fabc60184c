"""Window training of time series resumes exactly: the training windows come from the resumable
sampler, and the data module's state records where the epoch stood."""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import open_dict

from seqlstm.cli.train import train
from seqlstm.data import TimeSeriesDataModule
from seqlstm.tasks import read_checkpoint
from tests.conftest import run_cli
from tests.helpers.timeseries_data import sine, two_series


def series_run(table: Path, *extra: str) -> list[str]:
    """A two-epoch deterministic run of 9 batches an epoch (131 training windows of 16), with
    dropout (so the random state matters) and a last.ckpt every 4 steps."""
    return ["data=timeseries", f"data.path={table}", "data.targets=[y]", "data.time_column=t",
            "data.lookback=8", "data.horizon=2", "data.batch_size=16",
            "model.encoder.hidden_size=8", "model.encoder.output_dropout=0.2",
            "trainer=deterministic", "trainer.max_epochs=2", "+trainer.limit_val_batches=1",
            "trainer.enable_progress_bar=false", "~callbacks.rich_progress_bar",
            "~callbacks.lr_monitor", "~callbacks.early_stopping", "test=false",
            "callbacks.last_checkpoint.every_n_train_steps=4", *extra]


def final_state(run_dir: Path) -> dict:
    checkpoint = read_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    return {"global_step": checkpoint["global_step"], "state_dict": checkpoint["state_dict"],
            "optimizer": checkpoint["optimizer_states"][0]["state"]}


def same_tensors(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_tensors(a[k], b[k]) for k in a)
    return torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b


def test_resumed_windows_skip_the_trained_batches_once():
    data = TimeSeriesDataModule(two_series(), targets=["y"], time_column="t", id_column="id",
                                lookback=4, horizon=2, batch_size=8)
    data.setup("fit")
    whole = [b["series"].tolist() + b["targets"][:, 0, 0].tolist()
             for b in data.train_dataloader()]
    data.load_state_dict({"epoch": 0, "batches": 2, "world_size": 1})
    resumed = [b["series"].tolist() + b["targets"][:, 0, 0].tolist()
               for b in data.train_dataloader()]
    assert resumed == whole[2:]  # the same permutation, its first 2 batches left out
    again = [b["series"].tolist() + b["targets"][:, 0, 0].tolist()
             for b in data.train_dataloader()]
    assert again == whole  # the skip applies once


@pytest.mark.slow
def test_series_training_killed_mid_epoch_resumes_to_the_same_weights(compose_train, tmp_path):
    """SIGKILL at step 14 (epoch 2, batch 6) loses steps 12-13: the run resumes from the
    periodic step-12 checkpoint, mid-epoch, and ends bitwise equal to the uninterrupted run."""
    table = tmp_path / "sine.csv"
    sine(200).to_csv(table, index=False)

    def compose_in(run_dir: Path, *overrides: str):
        cfg = compose_train(*overrides)
        with open_dict(cfg):
            cfg.paths.output_dir = str(run_dir)
        return cfg

    reference = tmp_path / "reference"
    train(compose_in(reference, *series_run(table)))
    expected = final_state(reference)
    assert expected["global_step"] == 18

    killed = tmp_path / "killed"
    killed.mkdir()
    fault = ["+callbacks.fault._target_=tests.helpers.faults.SignalAt", "+callbacks.fault.step=14",
             f"+callbacks.fault.signum={int(signal.SIGKILL)}"]
    result = run_cli("train", *series_run(table, *fault),
                     f"hydra.run.dir={killed}", cwd=tmp_path, check=False)
    assert result.returncode == -signal.SIGKILL
    checkpoint = read_checkpoint(killed / "checkpoints" / "last.ckpt")
    assert (checkpoint["global_step"], checkpoint["epoch"]) == (12, 1)  # mid-epoch 2

    resumed = tmp_path / "resumed"
    train(compose_in(resumed, *series_run(table), f"ckpt_path={killed}"))
    ours = final_state(resumed)
    assert ours["global_step"] == 18
    assert same_tensors(ours["state_dict"], expected["state_dict"])
    assert same_tensors(ours["optimizer"], expected["optimizer"])


def test_random_windows_per_epoch_are_drawn_with_replacement():
    data = TimeSeriesDataModule(pd.DataFrame({"y": np.arange(60.0)}), targets=["y"],
                                lookback=4, horizon=1, batch_size=5, windows_per_epoch=10)
    data.setup("fit")
    assert [len(b["series"]) for b in data.train_dataloader()] == [5, 5]
