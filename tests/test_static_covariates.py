"""Static covariates per series (categorical and real) and the learned series embedding."""

from __future__ import annotations

import re

import lightning as L
import numpy as np
import pytest
import torch

from seqlstm.data import TimeSeriesDataModule
from seqlstm.data.series.backtest import backtest_windows
from seqlstm.errors import ConfigError, DataError
from seqlstm.inference import Predictor
from seqlstm.tasks import Forecaster, load_task
from tests.helpers.timeseries_data import stores

STATICS = {"static_categorical": ["region"], "static_real": ["size"]}


def module(path, stage: str = "fit", **kwargs) -> TimeSeriesDataModule:
    dm = TimeSeriesDataModule(path, targets="y", time_column="t", id_column="id", lookback=8,
                              horizon=2, batch_size=16, **{**STATICS, **kwargs})
    dm.setup(stage)
    return dm


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "stores.csv"
    stores().to_csv(path, index=False)
    return path


def test_windows_carry_each_series_codes_and_standardised_values(table):
    dm = module(table)
    extra = dm.spec.extra
    assert extra["static_categorical"] == {"region": ["north", "south", "east"]}
    assert extra["static_codes"] == [[0], [1], [0], [2]]
    assert extra["static_mean"] == [2.75]  # sizes 3, 1, 2, 5 over the series
    assert extra["static_std"] == pytest.approx([np.std([3, 1, 2, 5])])
    windows = dm.windows["train"]
    first = [int(windows.cum[k]) for k in range(4)]  # the first window of each series
    batch = windows.__getitems__(first)
    assert batch["static_categorical"][:, 0].tolist() == [0, 1, 0, 2]
    expected = (np.array([3, 1, 2, 5]) - 2.75) / np.std([3, 1, 2, 5])
    assert batch["static_real"][:, 0].tolist() == pytest.approx(expected.tolist(), rel=1e-6)


def test_a_static_covariate_that_varies_within_a_series_is_one_line(tmp_path):
    frame = stores()
    frame.loc[85, "region"] = "west"  # series s1, its 6th row; file row 86 (line 87)
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=re.escape(
            f"{path}: series 's1', row 86 (line 87), column 'region': 'west' differs from the "
            "series' first value 'south' (row 81); a static covariate must be constant within "
            "a series")):
        module(path)
    frame = stores()
    frame.loc[3, "size"] = 3.5
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=re.escape(
            f"{path}: series 's0', row 4 (line 5), column 'size': 3.5 differs from the series' "
            "first value 3 (row 1)")):
        module(path)
    frame.loc[3, "size"] = np.nan
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=re.escape(
            f"{path}: series 's0', row 4 (line 5), column 'size': the static covariate is "
            "missing")):
        module(path)


def test_static_columns_are_checked_and_refused_where_they_cannot_apply(table):
    with pytest.raises(DataError, match=re.escape(
            "no column (data.static_categorical) 'kind'; the columns are ['id', 't', "
            "'region', 'size', 'y']")):
        module(table, static_categorical=["kind"])
    with pytest.raises(ConfigError, match=re.escape(
            "'data.static_categorical/static_real' must be empty with data.stateful=true "
            "(streams read no static covariates), got ['region', 'size']")):
        module(table, stateful=True)


def train_briefly(dm: TimeSeriesDataModule, tmp_path, **options) -> tuple[Forecaster, str]:
    torch.manual_seed(0)
    task = Forecaster(spec=dm.spec.as_dict(), encoder={"hidden_size": 8}, **options)
    trainer = L.Trainer(max_epochs=1, limit_train_batches=4, limit_val_batches=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.fit(task, datamodule=dm)
    path = str(tmp_path / "static.ckpt")
    trainer.save_checkpoint(path)
    return task.eval(), path


def test_the_model_reads_them_and_the_checkpoint_carries_them(table, tmp_path):
    dm = module(table)
    task, path = train_briefly(dm, tmp_path, series_embedding=3)
    assert task.encoder.layers[0].rnn.input_size == 1 + 2 + 1 + 3  # y, region, size, series
    batch = dm.windows["val"].__getitems__([0, 1])
    other = {**batch, "static_categorical": torch.full_like(batch["static_categorical"], 2)}
    assert not torch.allclose(task.step_outputs(batch), task.step_outputs(other))
    loaded = load_task(path, Forecaster).eval()  # weights_only loading
    assert loaded.spec.extra["static_categorical"] == {"region": ["north", "south", "east"]}
    assert torch.equal(loaded.step_outputs(batch), task.step_outputs(batch))
    # a forecast from raw history takes each series' static covariates from the checkpoint
    history = dm.store.values[dm.store.offsets[1] : dm.store.offsets[1] + 8]  # s1's first 8
    window = dm.windows["train"].__getitems__([int(dm.windows["train"].cum[1])])
    forecast = Predictor(loaded).forecast(history, series="s1")["mean"]
    assert torch.allclose(forecast, loaded.predict_step(window, 0)["mean"][0], atol=1e-5)


def test_prediction_and_backtest_carry_them_and_an_unseen_category_is_an_error(table, tmp_path):
    dm = module(table)
    task, _ = train_briefly(dm, tmp_path)
    folds = backtest_windows(dm, 2, 2).windows.__getitems__([0, 7])  # s0 and s3
    assert folds["static_categorical"][:, 0].tolist() == [0, 2]
    new = stores(30, seed=1)
    new_path = tmp_path / "new.csv"
    new.to_csv(new_path, index=False)
    predict = module(table, fitted=dm.fitted, predict_path=str(new_path), stage="predict")
    batch = predict.windows["predict"].__getitems__([0, 1, 2, 3])
    assert batch["static_categorical"][:, 0].tolist() == [0, 1, 0, 2]
    assert task.predict_step(batch, 0)["mean"].shape == (4, 2, 1)
    new.loc[new["id"] == "s2", "region"] = "central"
    new.to_csv(new_path, index=False)
    with pytest.raises(DataError, match=re.escape(
            f"{new_path}: series 's2', row 61 (line 62), column 'region': category 'central' "
            "was not in the training data (known: ['north', 'south', 'east'])")):
        module(table, fitted=dm.fitted, predict_path=str(new_path), stage="predict")


def test_the_cache_keeps_them(table, tmp_path):
    first = module(table, cache_dir=str(tmp_path / "cache"))
    again = module(table, cache_dir=str(tmp_path / "cache"))  # memory-mapped from the cache
    assert again.spec.extra["static_codes"] == first.spec.extra["static_codes"]
    assert again.spec.extra["static_values"] == first.spec.extra["static_values"]


def test_the_series_embedding_tells_series_apart(table):
    dm = module(table, static_categorical=[], static_real=[])
    torch.manual_seed(0)
    task = Forecaster(spec=dm.spec.as_dict(), encoder={"hidden_size": 8},
                      series_embedding=2).eval()
    assert task.encoder.layers[0].rnn.input_size == 1 + 2
    batch = dm.windows["val"].__getitems__([0, 0])
    batch["series"] = torch.tensor([0, 3])  # the same window, named as two series
    outputs = task.step_outputs(batch)
    assert not torch.allclose(outputs[0], outputs[1])


def test_autoregressive_decoding_reads_them_at_every_step(table):
    dm = module(table)
    torch.manual_seed(0)
    task = Forecaster(spec=dm.spec.as_dict(), encoder={"hidden_size": 8},
                      strategy="autoregressive", series_embedding=2).eval()
    batch = dm.windows["val"].__getitems__([0, 1])
    recursive = task.step_outputs(batch)
    prepared, _ = task.prepare({**batch, "targets": recursive})
    assert torch.allclose(task.teacher_forced(prepared), recursive, atol=1e-6)
