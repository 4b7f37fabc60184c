"""Prediction: the forecast origin, original units by hand, and seqlstm-predict end to end."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

from seqlstm.cli.evaluate import evaluate
from seqlstm.cli.predict import predict as predict_cli
from seqlstm.data import DataSpec, TimeSeriesDataModule
from seqlstm.errors import CheckpointError, DataError
from seqlstm.spec import UNK
from seqlstm.tasks import Forecaster, LanguageModel
from seqlstm.tasks.base import CHECKPOINT_TASK_KEY
from tests.conftest import run_cli
from tests.helpers.timeseries_data import sine, two_series


def trained_module(**kwargs) -> TimeSeriesDataModule:
    dm = TimeSeriesDataModule(two_series(60), targets=["y"], time_column="t", id_column="id",
                              lookback=6, horizon=3, **kwargs)
    dm.setup("fit")
    return dm


def constant_forecaster(dm: TimeSeriesDataModule, value: float) -> Forecaster:
    """A direct forecaster whose standardised forecast is always ``value``."""
    task = Forecaster(spec=dm.spec.as_dict(), encoder={"hidden_size": 4}).eval()
    with torch.no_grad():
        task.head.proj.weight.zero_()
        task.head.proj.bias.fill_(value)
    return task


def predict(dm: TimeSeriesDataModule, task: Forecaster) -> pd.DataFrame:
    dm.setup("predict")
    return dm.format_predictions([task.predict_step(b, 0) for b in dm.predict_dataloader()])


def test_forecasts_in_original_units_by_hand(tmp_path):
    fitted = trained_module().spec.extra
    # train rows of a 60-step series: steps 0..41; a: y = step, b: y = 100 + 10 * step
    std = float(np.std(np.arange(42)))
    new = two_series(60)
    new = new[new.t < 50]  # forecast steps 50, 51, 52 from steps 44..49
    new.to_csv(tmp_path / "new.csv", index=False)
    dm = TimeSeriesDataModule(None, targets=["y"], time_column="t", id_column="id", lookback=6,
                              horizon=3, fitted=fitted, predict_path=str(tmp_path / "new.csv"))
    frame = predict(dm, constant_forecaster(dm, 0.5))
    assert list(frame.columns) == ["id", "t", "step", "y"]
    assert frame["id"].tolist() == ["a"] * 3 + ["b"] * 3
    assert frame["t"].tolist() == [50, 51, 52] * 2
    assert frame["step"].tolist() == [1, 2, 3] * 2
    expected = [20.5 + 0.5 * std] * 3 + [305 + 0.5 * 10 * std] * 3
    assert frame["y"].tolist() == pytest.approx(expected, rel=1e-5)


def test_window_ends_at_the_last_observed_target():
    dm = trained_module(fitted=None)
    dm.predict_path = None
    dm.setup("predict")
    window = dm.windows["predict"].__getitems__([0])["inputs"][0, :, 0]
    fitted = dm.spec.extra
    restored = window.double() * fitted["std"][0][0] + fitted["mean"][0][0]
    assert restored.tolist() == pytest.approx([54, 55, 56, 57, 58, 59])
    assert dm.forecasts[0].times == [60, 61, 62]  # continued with the last step


def test_holdout_compares_with_the_truth():
    dm = trained_module(holdout=2)
    frame = predict(dm, constant_forecaster(dm, 0.0))
    a = frame[frame.id == "a"]
    assert a["t"].tolist() == [58, 59, 60]
    assert a["y_true"].tolist()[:2] == [58.0, 59.0] and np.isnan(a["y_true"].iloc[2])
    assert a["y"].tolist() == pytest.approx([20.5] * 3)  # the train mean of series a


def test_future_covariates_are_needed_over_the_horizon():
    dm = TimeSeriesDataModule(two_series(60), targets=["y"], time_column="t", id_column="id",
                              future_covariates=["f"], lookback=6, horizon=3)
    with pytest.raises(DataError, match=re.escape(
            "<DataFrame>: series 'a' needs the known-future covariates ['f'] of the 3 steps "
            "after its last observed target; give 3 rows after it with those columns filled")):
        dm.setup("predict")


def test_short_history_names_the_series():
    dm = trained_module(holdout=55)
    with pytest.raises(DataError, match=re.escape(
            "<DataFrame>: series 'a' has 5 observed rows before the forecast origin, fewer than "
            "data.lookback = 6 (after data.holdout = 55)")):
        dm.setup("predict")


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


@pytest.mark.slow
def test_seqlstm_predict_from_a_checkpoint_alone(tmp_path):
    data = tmp_path / "train.csv"
    sine(200).to_csv(data, index=False)
    run_cli("train", "data=timeseries", f"data.path={data}", "data.targets=[y]",
            "data.time_column=t", "data.lookback=12", "data.horizon=4", "data.units=volts",
            "model.encoder.hidden_size=16", "model.task_options.real.loss=gaussian_nll",
            "trainer.max_epochs=3", "trainer.enable_progress_bar=false",
            "~callbacks.rich_progress_bar", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    checkpoint = tmp_path / "run" / "checkpoints" / "last.ckpt"
    metrics = evaluate(OmegaConf.create({  # the scalers come from the checkpoint (fitted)
        "ckpt_path": str(checkpoint), "split": "test", "data_path": None, "batch_size": None,
        "trainer": {"accelerator": "cpu", "devices": 1}}))
    assert set(metrics) == {"test/loss", "test/mae", "test/rmse", "test/smape", "test/mase",
                            "test/coverage", "test/width", "test/wql", "test/crps"}
    assert 0 < metrics["test/mase"] < 10
    data.unlink()  # the checkpoint alone must do
    new = tmp_path / "new.csv"
    sine(80, seed=1).to_csv(new, index=False)
    out = tmp_path / "pred"
    result = run_cli("predict", f"ckpt_path={checkpoint}", f"data_path={new}",
                     "+data.holdout=4", f"output_dir={out}", f"hydra.run.dir={tmp_path}",
                     cwd=tmp_path)
    assert f"wrote {out / 'predictions.csv'}" in result.stdout
    frame = pd.read_csv(out / "predictions.csv")
    assert list(frame.columns) == ["series", "t", "step", "y", "y_lower", "y_upper", "y_true"]
    assert frame["t"].tolist() == [76, 77, 78, 79]
    assert frame["y_true"].tolist() == pytest.approx(sine(80, seed=1)["y"].iloc[76:].tolist())
    assert (frame["y_lower"] < frame["y"]).all() and (frame["y"] < frame["y_upper"]).all()
    assert 2 < frame["y"].mean() < 8  # original units (the series lives in 3..7)
    width, height = png_size(out / "forecast.png")
    assert width >= 800 and height >= 300



def test_predict_refuses_a_data_module_that_cannot_predict(tmp_path):
    spec = DataSpec("tokens", "next_token", 3, 3, vocab=[UNK, "a", "b"])
    task = LanguageModel(spec=spec.as_dict(), encoder={"hidden_size": 4},
                         data={"_target_": "seqlstm.data.CharDataModule", "path": "x.txt"})
    path = tmp_path / "lm.ckpt"
    torch.save({"hyper_parameters": dict(task.hparams), "state_dict": task.state_dict(),
                CHECKPOINT_TASK_KEY: "seqlstm.tasks.LanguageModel"}, path)
    cfg = OmegaConf.create({"ckpt_path": str(path), "data_path": None, "data": {},
                            "batch_size": None, "output_dir": str(tmp_path), "plot": True,
                            "trainer": {"accelerator": "cpu", "devices": 1}})
    with pytest.raises(CheckpointError, match=re.escape(
            f"{path}: its data module seqlstm.data.CharDataModule does not predict new data "
            "(it has no format_predictions)")):
        predict_cli(cfg)
