"""Forecaster: strategies, losses, original units, metrics and MASE."""

from __future__ import annotations

import math
import re

import lightning as L
import pandas as pd
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger

from seqlstm.data import TimeSeriesDataModule
from seqlstm.errors import ConfigError
from seqlstm.tasks import TASKS, Forecaster, build_task
from seqlstm.tasks.forecast_metrics import MeanAbsoluteScaledError
from tests.helpers.timeseries_data import sine, two_series

Z95 = 1.959963984540054


def forecaster(spec, **kwargs) -> Forecaster:
    encoder = {"hidden_size": 8, **kwargs.pop("encoder", {})}
    return Forecaster(spec=spec.as_dict() if hasattr(spec, "as_dict") else spec,
                      encoder=encoder, **kwargs)


@pytest.fixture
def covariates() -> TimeSeriesDataModule:
    dm = TimeSeriesDataModule(two_series(60), targets=["y"], time_column="t", id_column="id",
                              past_covariates=["p"], future_covariates=["f"], lookback=6,
                              horizon=3, batch_size=8)
    dm.setup("fit")
    return dm


def hand_spec(loss_width: int = 1) -> dict:
    """Two series with known scalers: a (mean 10, std 2), b (mean 100, std 5); horizon 2."""
    return {"input_kind": "real", "target_kind": "real", "input_size": 1, "output_size": 1,
            "horizon": 2, "extra": {"series": ["a", "b"], "columns": ["y"], "targets": ["y"],
                                    "past_covariates": [], "future_covariates": [],
                                    "mean": [[10.0], [100.0]], "std": [[2.0], [5.0]],
                                    "season": 1}}


def constant_head(task: Forecaster, bias: list[float]) -> None:
    with torch.no_grad():
        task.head.proj.weight.zero_()
        task.head.proj.bias.copy_(torch.tensor(bias))


def hand_batch() -> dict[str, torch.Tensor]:
    return {"inputs": torch.randn(2, 3, 1), "future": torch.zeros(2, 2, 0),
            "targets": torch.tensor([[[0.0], [1.0]], [[2.0], [-1.0]]]),
            "naive": torch.tensor([[[1.0], [1.0]], [[0.0], [0.0]]]),
            "series": torch.tensor([0, 1])}


def test_registered_for_real_targets(covariates):
    assert TASKS["real"] is Forecaster
    task = build_task({"_target_": "seqlstm.tasks.SequenceTask", "encoder": {"hidden_size": 8},
                       "task_options": {"real": {"strategy": "autoregressive",
                                                 "loss": "mae"}}}, covariates.spec)
    assert isinstance(task, Forecaster)
    assert (task.strategy, task.loss_name) == ("autoregressive", "mae")


@pytest.mark.parametrize("loss", ["mse", "mae", "gaussian_nll"])
@pytest.mark.parametrize("strategy", ["direct", "autoregressive"])
def test_strategies_and_losses_train_and_predict(strategy, loss, covariates):
    torch.manual_seed(0)
    task = forecaster(covariates.spec, strategy=strategy, loss=loss)
    trainer = L.Trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.fit(task, datamodule=covariates)
    metrics = trainer.callback_metrics
    assert set(metrics) >= {"train/loss", "val/loss", "val/mae", "val/rmse", "val/smape",
                            "val/mase"}
    assert all(math.isfinite(float(v)) for v in metrics.values())
    batch = covariates.windows["val"].__getitems__([0, 1])
    task.eval()
    assert task.step_outputs(batch).shape == (2, 3, 2 if loss == "gaussian_nll" else 1)
    prediction = task.predict_step(batch, 0)
    expected = {"mean", "lower", "upper"} if loss == "gaussian_nll" else {"mean"}
    assert set(prediction) == expected
    assert all(v.shape == (2, 3, 1) for v in prediction.values())
    if loss == "gaussian_nll":
        assert (prediction["lower"] < prediction["mean"]).all()
        assert (prediction["mean"] < prediction["upper"]).all()


def test_predictions_in_original_units_by_hand():
    task = forecaster(hand_spec()).eval()
    constant_head(task, [0.5, -1.0])  # standardised forecasts of steps 1 and 2
    mean = task.predict_step(hand_batch(), 0)["mean"]
    assert mean[..., 0].tolist() == [[0.5 * 2 + 10, -1 * 2 + 10], [0.5 * 5 + 100, -1 * 5 + 100]]


def test_intervals_in_original_units_by_hand():
    task = forecaster(hand_spec(), loss="gaussian_nll").eval()
    unit = math.log(math.e - 1)  # softplus(unit) = 1: variance 1 in standardised units
    constant_head(task, [0.5, unit, -1.0, unit])
    out = task.predict_step(hand_batch(), 0)
    half = torch.tensor([[Z95 * 2], [Z95 * 5]]).unsqueeze(1)  # z * std of each series
    assert torch.allclose(out["upper"] - out["mean"], half.expand(2, 2, 1), rtol=1e-5)
    assert torch.allclose(out["mean"] - out["lower"], half.expand(2, 2, 1), rtol=1e-5)


def test_metrics_in_original_units_by_hand():
    task = forecaster(hand_spec()).eval()
    constant_head(task, [0.0, 0.0])  # forecasts: the series means
    batch = hand_batch()
    metrics = task.build_metrics("val")
    task.update_metrics(metrics, task.step_outputs(batch), batch, torch.tensor(0.0))
    values = {k: float(v) for k, v in metrics.compute().items()}
    # errors in original units: a: |0|*2, |1|*2; b: |2|*5, |-1|*5 -> 0, 2, 10, 5
    assert values["mae"] == pytest.approx(17 / 4)
    assert values["rmse"] == pytest.approx(math.sqrt((0 + 4 + 100 + 25) / 4))
    # naive errors: a: |1-0|*2, |1-1|*2; b: |0-2|*5, |0+1|*5 -> 2, 0, 10, 5
    assert values["mase"] == pytest.approx(17 / 17)
    truth = torch.tensor([10.0, 12.0, 110.0, 95.0])
    smape = (2 * (torch.tensor([10.0, 10.0, 100.0, 100.0]) - truth).abs()
             / (truth + torch.tensor([10.0, 10.0, 100.0, 100.0]))).mean()
    assert values["smape"] == pytest.approx(float(smape), rel=1e-5)


def test_mase_is_a_ratio_of_sums_over_the_epoch():
    mase = MeanAbsoluteScaledError()
    mase.update(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0]), torch.tensor([4.0, 4.0]))
    mase.update(torch.tensor([3.0]), torch.tensor([0.0]), torch.tensor([2.0]))
    assert float(mase.compute()) == pytest.approx(6 / 10)


def test_recursive_decoding_matches_teacher_forcing_on_its_own_forecasts(covariates):
    torch.manual_seed(0)
    task = forecaster(covariates.spec, strategy="autoregressive").eval()
    batch = covariates.windows["train"].__getitems__([0, 30])
    recursive = task.step_outputs(batch)
    other = {**batch, "targets": torch.randn_like(batch["targets"])}
    assert torch.equal(task.step_outputs(other), recursive)  # never reads the targets
    fed_back = {**batch, "targets": recursive}
    assert torch.allclose(task.teacher_forced(fed_back), recursive, atol=1e-6)


def test_teacher_forcing_reads_the_previous_targets(covariates):
    torch.manual_seed(0)
    task = forecaster(covariates.spec, strategy="autoregressive").train()
    batch = covariates.windows["train"].__getitems__([0])
    changed = batch["targets"].clone()
    changed[:, 1] += 1.0  # target of step 2 is the input that predicts step 3
    outputs = task.step_outputs(batch)
    other = task.step_outputs({**batch, "targets": changed})
    assert torch.equal(outputs[:, :2], other[:, :2])
    assert not torch.equal(outputs[:, 2], other[:, 2])


def test_direct_head_reads_the_known_future(covariates):
    torch.manual_seed(0)
    task = forecaster(covariates.spec).eval()
    batch = covariates.windows["train"].__getitems__([0])
    shifted = {**batch, "future": batch["future"] + 1}
    assert not torch.equal(task.step_outputs(batch), task.step_outputs(shifted))


@pytest.mark.parametrize("strategy", ["direct", "autoregressive"])
def test_relative_forecasts_follow_the_level(strategy, covariates):
    torch.manual_seed(0)
    task = forecaster(covariates.spec, strategy=strategy, relative=True).eval()
    batch = covariates.windows["train"].__getitems__([0, 30])
    raised = dict(batch)
    raised["inputs"] = batch["inputs"].clone()
    raised["inputs"][..., 0] += 7.0  # the target column, every observed step
    raised["targets"] = batch["targets"] + 7.0
    assert torch.allclose(task.step_outputs(raised), task.step_outputs(batch) + 7.0, atol=1e-5)


def test_plain_real_batches_need_no_time_series_keys():
    """Any data module with real targets (e.g. a synthetic regression task) can use it."""
    torch.manual_seed(0)
    spec = {"input_kind": "real", "target_kind": "real", "input_size": 2, "output_size": 1,
            "variable_length": True}
    task = forecaster(spec)
    assert set(task.build_metrics("val")) == {"mae", "rmse", "smape"}  # no season: no MASE
    inputs, lengths = torch.randn(2, 5, 2), torch.tensor([3, 5])
    batch = {"inputs": inputs, "targets": torch.randn(2, 1, 1), "lengths": lengths}
    task.train()
    task.loss(task.step_outputs(batch), batch).backward()
    task.eval()
    outputs = task.step_outputs(batch)
    alone = task.step_outputs({"inputs": inputs[:1, :3], "targets": batch["targets"][:1]})
    assert torch.allclose(outputs[:1], alone, atol=1e-6)  # the last valid step, not padding
    metrics = task.build_metrics("val")
    task.update_metrics(metrics, outputs, batch, torch.tensor(0.0))
    assert set(metrics.compute()) == {"mae", "rmse", "smape"}
    assert set(task.predict_step(batch, 0)) == {"mean"}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"strategy": "seq2seq"}, "config key 'model.task_options.real.strategy' must be one of "
     "['direct', 'autoregressive'], got 'seq2seq'"),
    ({"loss": "huber"}, "config key 'model.task_options.real.loss' must be one of ['mse', "
     "'mae', 'gaussian_nll', 'student_t', 'negative_binomial', 'poisson', 'quantile'], got "
     "'huber'"),
    ({"interval": 1.0}, "config key 'model.task_options.real.interval' must be a number in "
     "(0, 1), got 1.0"),
    ({"strategy": "autoregressive", "encoder": {"bidirectional": True}},
     "config key 'model.encoder.bidirectional' must be false for the autoregressive strategy "
     "(a backward pass would read the future), got True"),
])
def test_bad_options(kwargs, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        forecaster(hand_spec(), **kwargs)


def test_learns_a_sine_better_than_the_naive_forecast():
    torch.manual_seed(0)
    dm = TimeSeriesDataModule(sine(), targets="y", time_column="t", lookback=12, horizon=3,
                              batch_size=16)
    dm.setup("fit")
    task = forecaster(dm.spec, encoder={"hidden_size": 16})
    trainer = L.Trainer(max_epochs=8, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(task, datamodule=dm)
    assert float(trainer.callback_metrics["val/mase"]) < 0.5  # naive: the last value


def test_epoch_metrics_are_logged_once_per_epoch_over_every_batch(covariates, tmp_path):
    """Metric objects are logged at the epoch's end, not per step: with a frozen model (lr 0,
    no dropout) the epoch's train and val MAE equal the MAE of its forecasts over every window
    of the split, in original units, and the CSV has one train/mae row per epoch."""
    torch.manual_seed(0)
    task = forecaster(covariates.spec, strategy="direct", loss="mae",
                      optimizer={"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.0})
    trainer = L.Trainer(max_epochs=2, logger=CSVLogger(tmp_path, name="run"),
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, log_every_n_steps=1)
    trainer.fit(task, datamodule=covariates)
    task.eval()
    for stage in ("train", "val"):
        windows = covariates.windows[stage]
        batch = windows.__getitems__(list(range(len(windows))))
        expected = (task.predict_step(batch, 0)["mean"]
                    - task.original_units(batch["targets"], batch["series"])).abs().mean()
        assert float(trainer.callback_metrics[f"{stage}/mae"]) == pytest.approx(float(expected),
                                                                              rel=1e-5)
    rows = pd.read_csv(tmp_path / "run" / "version_0" / "metrics.csv")
    assert rows["train/mae"].notna().sum() == 2
    assert rows["val/mae"].notna().sum() == 2
    assert rows["train/loss_step"].notna().sum() == trainer.global_step


def test_validation_figure_draws_windows_in_original_units():
    task = forecaster(hand_spec(), loss="gaussian_nll")
    batch = hand_batch()
    figure = task.validation_figures(batch)["forecast"]
    panels = figure.axes
    assert len(panels) == 2  # two windows in the batch
    truth = {line.get_label(): line.get_ydata() for line in panels[1].get_lines()}["truth"]
    assert list(truth) == pytest.approx([100.0 + 5 * 2.0, 100.0 + 5 * -1.0])  # series b
    legend = [t.get_text() for t in figure.legends[0].get_texts()] if figure.legends else \
        [t.get_text() for t in panels[0].get_legend().get_texts()]
    assert "95% interval" in legend
