"""Per-window normalisation of forecasters: RevIN and the seasonal-relative target."""

from __future__ import annotations

import math
import re

import lightning as L
import pytest
import torch

from seqlstm.data import TimeSeriesDataModule
from seqlstm.errors import ConfigError
from seqlstm.inference import Predictor
from seqlstm.tasks import Forecaster
from tests.helpers.timeseries_data import sine

LEVELS = [0.1, 0.5, 0.9]


@pytest.fixture(scope="module")
def seasonal() -> TimeSeriesDataModule:
    dm = TimeSeriesDataModule(sine(period=4), targets="y", time_column="t", lookback=8,
                              horizon=3, season=4, batch_size=16)
    dm.setup("fit")
    return dm


def forecaster(spec, **kwargs) -> Forecaster:
    torch.manual_seed(0)
    return Forecaster(spec=spec.as_dict(), encoder={"hidden_size": 8}, **kwargs).eval()


def spread(task: Forecaster, outputs: torch.Tensor) -> torch.Tensor:
    """``(Q, B, H, n)`` the forecast quantiles of raw ``outputs`` in standardised units."""
    zero = outputs.new_zeros(outputs.size(0), 1, 1)
    torch.manual_seed(1)  # the same draws for each call (Student-t quantiles are sampled)
    return task.dist.quantiles(outputs, LEVELS, zero, zero + 1, 10)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize(("strategy", "loss"), [
    ("direct", "mse"), ("direct", "gaussian_nll"), ("direct", "student_t"),
    ("direct", "quantile"), ("autoregressive", "gaussian_nll"), ("autoregressive", "mae")])
def test_revin_forecasts_move_and_scale_with_the_window(strategy, loss, affine, seasonal):
    """Shift a window's targets by b and scale them by a: the RevIN forecast's location and
    quantiles shift by b and scale by a."""
    task = forecaster(seasonal.spec, strategy=strategy, loss=loss, normalization="revin",
                      revin_affine=affine, quantiles=LEVELS if loss == "quantile" else None)
    if affine:
        with torch.no_grad():
            task.revin_weight.fill_(1.7)
            task.revin_bias.fill_(-0.3)
    batch = seasonal.windows["train"].__getitems__([0, 5, 9])
    moved = {**batch, "inputs": batch["inputs"] * 3.0 - 2.0}
    before, after = task.step_outputs(batch), task.step_outputs(moved)
    point = task.point(before, batch["series"])
    assert torch.allclose(task.point(after, batch["series"]), point * 3.0 - 2.0, atol=1e-4)
    if loss not in ("mse", "mae"):
        assert torch.allclose(spread(task, after), spread(task, before) * 3.0 - 2.0, atol=1e-3)


def test_revin_round_trips_its_inputs(seasonal):
    task = forecaster(seasonal.spec, normalization="revin")
    with torch.no_grad():
        task.revin_weight.fill_(0.5)
        task.revin_bias.fill_(2.0)
    inputs = seasonal.windows["train"].__getitems__([0, 1])["inputs"]  # (2, 8, 1)
    transform = task.window_transform(inputs)
    normalised = transform.inputs(inputs)
    # each window: mean beta, deviation gamma * sigma / sqrt(sigma^2 + eps) ~ gamma
    assert torch.allclose(normalised.mean(dim=1), torch.full((2, 1), 2.0), atol=1e-5)
    assert torch.allclose(normalised.std(dim=1, unbiased=False), torch.full((2, 1), 0.5),
                          atol=1e-4)
    assert torch.allclose(transform.values_out(normalised), inputs, atol=1e-5)


def zero_head(task: Forecaster) -> None:
    with torch.no_grad():
        task.head.proj.weight.zero_()
        task.head.proj.bias.zero_()


@pytest.mark.parametrize("normalization", ["none", "revin"])
def test_seasonal_relative_with_zero_outputs_is_the_seasonal_naive_forecast(normalization,
                                                                            seasonal):
    task = forecaster(seasonal.spec, relative="seasonal", normalization=normalization)
    zero_head(task)
    batch = seasonal.windows["test"].__getitems__([0, 3])
    assert torch.allclose(task.step_outputs(batch), batch["naive"], atol=1e-6)
    mean = task.predict_step(batch, 0)["mean"]
    naive = task.original_units(batch["naive"], batch["series"])
    assert torch.allclose(mean, naive, atol=1e-5)
    # the naive value of horizon step h is the input one season (4 steps) before it
    assert torch.equal(batch["naive"][:, 0], batch["inputs"][:, -4, :1])


def test_seasonal_relative_intervals_sit_around_the_naive_forecast(seasonal):
    task = forecaster(seasonal.spec, relative="seasonal", loss="gaussian_nll")
    unit = math.log(math.e - 1)  # softplus(unit) = 1: variance 1
    with torch.no_grad():
        task.head.proj.weight.zero_()
        task.head.proj.bias.copy_(torch.tensor([0.0, unit] * 3))
    batch = seasonal.windows["test"].__getitems__([0])
    out = task.predict_step(batch, 0)
    std = task.scaler.std[0, 0]
    naive = task.original_units(batch["naive"], batch["series"])
    assert torch.allclose(out["mean"], naive, atol=1e-5)
    assert torch.allclose(out["upper"] - out["mean"], torch.full_like(naive, 1.959964 * std),
                          rtol=1e-4)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"normalization": "batch"}, "'model.task_options.real.normalization' must be one of "
     "['none', 'revin', 'auto'], got 'batch'"),
    ({"relative": "yearly"}, "'model.task_options.real.relative' must be false, true (= last) "
     "or seasonal, got 'yearly'"),
    ({"relative": "seasonal", "strategy": "autoregressive"}, "'model.task_options.real."
     "relative' must be false or true with the autoregressive strategy (seasonal needs the "
     "direct strategy), got 'seasonal'"),
])
def test_bad_window_options(kwargs, message, seasonal):
    with pytest.raises(ConfigError, match=re.escape(message)):
        forecaster(seasonal.spec, **kwargs)


@pytest.mark.parametrize(("strategy", "loss"), [("direct", "quantile"),
                                                ("autoregressive", "student_t")])
def test_revin_trains_and_predicts(strategy, loss, seasonal):
    task = forecaster(seasonal.spec, strategy=strategy, loss=loss, normalization="revin",
                      relative="seasonal" if strategy == "direct" else False,
                      num_samples=8).train()
    trainer = L.Trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.fit(task, datamodule=seasonal)
    assert float(task.revin_weight) != 1.0  # the affine learns
    assert all(math.isfinite(float(v)) for v in trainer.callback_metrics.values())
    task.eval()
    out = task.predict_step(seasonal.windows["test"].__getitems__([0, 1]), 0)
    assert (out["lower"] <= out["upper"]).all() and out["mean"].shape == (2, 3, 1)


def test_revin_with_the_last_value_centres_windows_on_it(seasonal):
    task = forecaster(seasonal.spec, relative=True, normalization="revin", revin_affine=False)
    inputs = seasonal.windows["train"].__getitems__([0, 1])["inputs"]
    normalised = task.window_transform(inputs).inputs(inputs)
    assert torch.allclose(normalised[:, -1], torch.zeros(2, 1), atol=1e-6)
    assert torch.allclose(normalised.std(dim=1, unbiased=False), torch.ones(2, 1), atol=1e-3)


@pytest.mark.parametrize(("options", "resolved"), [
    ({}, ("none", "revin")),
    ({"strategy": "autoregressive"}, ("none", "revin")),
    ({"relative": True}, ("last", "revin")),
    ({"relative": "seasonal"}, ("seasonal", "revin")),
])
def test_auto_picks_revin_for_time_series(options, resolved, seasonal):
    task = forecaster(seasonal.spec, **{"normalization": "auto", **options})
    assert (task.relative, task.normalization) == resolved


def test_auto_leaves_other_real_valued_data_and_streams_alone(seasonal):
    plain = {"input_kind": "real", "target_kind": "real", "input_size": 2, "output_size": 1}
    task = Forecaster(spec=plain, encoder={"hidden_size": 4}, normalization="auto")
    assert task.normalization == "none"
    stream = {**seasonal.spec.as_dict(), "extra": {**seasonal.spec.extra, "stateful": True}}
    task = Forecaster(spec=stream, encoder={"hidden_size": 4}, strategy="autoregressive",
                      normalization="auto")
    assert task.normalization == "none"


def test_forecasts_from_raw_history_apply_the_same_transform(seasonal):
    task = forecaster(seasonal.spec, relative="seasonal", normalization="revin",
                      loss="gaussian_nll")
    windows = seasonal.windows["test"]
    start = int(windows.starts[2])
    history = seasonal.store.values[start : start + 8]  # (lookback, 1) in original units
    forecast = Predictor(task).forecast(history)
    expected = task.predict_step(windows.__getitems__([2]), 0)
    assert torch.allclose(forecast["mean"], expected["mean"][0], atol=1e-4)
    assert torch.allclose(forecast["upper"], expected["upper"][0], atol=1e-4)
