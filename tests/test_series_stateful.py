"""Stateful streams over time series: one-step pairs, series after series, carried state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqlstm.data import TimeSeriesDataModule
from seqlstm.errors import CheckpointError, ConfigError, DataError
from seqlstm.tasks import Forecaster
from tests.helpers.runs import quiet_trainer
from tests.helpers.timeseries_data import two_series


def series_data(**kwargs) -> TimeSeriesDataModule:
    """Two 40-step series (train rows 0-27, val 28-33, test 34-39) with a past and a future
    covariate, as 3 streams per series of 4-step batches."""
    options = {"targets": ["y"], "time_column": "t", "id_column": "id", "past_covariates": ["p"],
               "future_covariates": ["f"], "lookback": 4, "horizon": 2, "batch_size": 3,
               "stateful": True, **kwargs}
    data = TimeSeriesDataModule(two_series(), **options)
    data.setup("fit")
    return data


def unscaled(data: TimeSeriesDataModule, values: torch.Tensor, series: int,
             column: int) -> np.ndarray:
    mean, std = data.fitted["mean"][series][column], data.fitted["std"][series][column]
    return np.round(values.numpy() * std + mean, 3)


def test_series_streams_read_every_row_of_a_split_once_as_a_one_step_target():
    data = series_data()
    batches = list(data.train_dataloader())
    # 27 pairs per series (targets rows 1-27) -> 3 streams of 9 steps -> 3 batches of <= 4 steps
    assert [int(b["series"][0]) for b in batches] == [0, 0, 0, 1, 1, 1]
    assert [b["reset"].all().item() for b in batches] == [True, False, False] * 2
    assert [b["inputs"].shape[1] for b in batches] == [4, 4, 1] * 2
    a = [b for b in batches if b["series"][0] == 0]
    targets = unscaled(data, torch.cat([b["targets"] for b in a], dim=1), 0, 0)  # (3, 9, 1)
    assert sorted(targets.ravel().tolist()) == list(range(1, 28))  # series a: y = row
    inputs = torch.cat([b["inputs"] for b in a], dim=1)  # (3, 9, 3): y, p of row t; f of t + 1
    assert (unscaled(data, inputs[..., 0], 0, 0) == targets[..., 0] - 1).all()
    assert (unscaled(data, inputs[..., 2], 0, 2) == targets[..., 0] % 2).all()
    naive = unscaled(data, torch.cat([b["naive"] for b in a], dim=1), 0, 0)
    assert (naive == targets - 1).all()  # season 1: the row before

    val = list(data.val_dataloader())  # one stream per series: targets rows 28-33
    assert [tuple(b["inputs"].shape) for b in val] == [(1, 4, 3), (1, 2, 3)] * 2
    rows = unscaled(data, torch.cat([b["targets"] for b in val[:2]], dim=1), 0, 0)
    assert rows.ravel().tolist() == list(range(28, 34))


def test_resumed_series_streams_start_at_the_saved_batch_once():
    data = series_data()
    data.load_state_dict({"epoch": 0, "batches": 4, "world_size": 1})
    loader = data.train_dataloader()
    first = [int(b["offset"][0]) for b in loader]
    again = [int(b["offset"][0]) for b in loader]
    assert len(first) == 2 and len(again) == 6 and first == again[4:]
    data.load_state_dict({"epoch": 0, "batches": 4, "world_size": 2})
    with pytest.raises(CheckpointError, match="on 2 rank\\(s\\); resume it on as many, not 1"):
        data.train_dataloader()


def test_stateful_series_evaluation_equals_one_pass_per_series():
    data = series_data(season=2)
    torch.manual_seed(0)
    model = Forecaster(spec=data.spec.as_dict(), encoder={"hidden_size": 8},
                       strategy="autoregressive")
    quiet_trainer(max_epochs=2, limit_val_batches=0).fit(model, datamodule=data)
    result = quiet_trainer().validate(model, datamodule=data, verbose=False)[0]
    errors, absolute = [], []
    model.eval()
    for pair in data.pairs["val"]:
        with torch.no_grad():
            outputs, _ = model(torch.from_numpy(pair.inputs)[None])  # (1, T, 1): one pass
        errors.append((outputs[0] - torch.from_numpy(pair.targets)) ** 2)
        absolute.append((outputs[0] - torch.from_numpy(pair.targets)).abs()
                        * data.fitted["std"][pair.series][0])
    assert result["val/loss"] == pytest.approx(float(torch.cat(errors).mean()), abs=1e-6)
    assert result["val/mae"] == pytest.approx(float(torch.cat(absolute).mean()), rel=1e-5)
    assert "val/mase" in result


@pytest.mark.parametrize(("options", "key"), [({}, "strategy"),
                                              ({"strategy": "autoregressive",
                                                "relative": True}, "relative")])
def test_stateful_series_need_a_one_step_forecaster(options, key):
    data = series_data()
    model = Forecaster(spec=data.spec.as_dict(), encoder={"hidden_size": 4}, **options)
    with pytest.raises(ConfigError, match=rf"model\.task_options\.real\.{key}' must be"):
        quiet_trainer(max_steps=1, limit_val_batches=0).fit(model, datamodule=data)


def test_stateful_series_refuse_a_stride():
    with pytest.raises(ConfigError, match=r"data\.stride' must be 1 with data\.stateful=true"):
        TimeSeriesDataModule(two_series(), targets=["y"], stride=2, stateful=True)


def test_a_series_too_short_for_the_streams_is_named():
    with pytest.raises(DataError, match="train split of series 'a': 27 steps on rank 0 cannot "
                                        "fill 30 streams"):
        series_data(batch_size=30).train_dataloader()


def test_series_loss_is_weighted_by_steps():
    model = Forecaster(spec=series_data().spec.as_dict(), encoder={"hidden_size": 4})
    assert model.batch_weight({"targets": torch.zeros(3, 4, 1)}) == 12
