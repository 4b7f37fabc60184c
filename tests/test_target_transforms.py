"""Target transforms (``data.target_transform``): the model reads and forecasts the transformed
targets, and everything it reports is back in original units."""

from __future__ import annotations

import re

import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch

from seqlstm.data import TimeSeriesDataModule
from seqlstm.errors import ConfigError, DataError
from seqlstm.inference import Predictor
from seqlstm.target_transforms import TRANSFORMS, TargetTransform
from seqlstm.tasks import Forecaster
from tests.helpers.timeseries_data import two_series

OPTIONS = dict(targets=["y"], time_column="t", id_column="id", past_covariates=["p"],
               future_covariates=["f"], lookback=6, horizon=3, batch_size=8)


def module(table: pd.DataFrame | str, **options) -> TimeSeriesDataModule:
    dm = TimeSeriesDataModule(table, **{**OPTIONS, **options})
    dm.setup("fit")
    return dm


def trained(dm: TimeSeriesDataModule, loss: str) -> Forecaster:
    torch.manual_seed(0)
    task = Forecaster(spec=dm.spec.as_dict(), encoder={"hidden_size": 8}, loss=loss,
                      quantiles=[0.1, 0.5, 0.9])
    L.Trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=1, logger=False,
              enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False).fit(task, datamodule=dm)
    return task.eval()


@pytest.mark.parametrize("name", TRANSFORMS)
@pytest.mark.parametrize("lib", [np, torch])
def test_inverse_undoes_forward_and_never_decreases(name, lib):
    transform = TargetTransform(name)
    values = lib.asarray([0.5, 1.0, 3.0, 250.0], dtype=lib.float64)
    back = transform.inverse(transform.forward(values))
    assert np.allclose(np.asarray(back), [0.5, 1.0, 3.0, 250.0], rtol=1e-12)
    anywhere = lib.linspace(-5, 5, 101, dtype=lib.float64)  # what heads answer, transformed
    assert (np.diff(np.asarray(transform.inverse(anywhere))) >= 0).all()


def test_sqrt_maps_forecasts_below_zero_to_zero_and_domains_are_named():
    assert TargetTransform("sqrt").inverse(torch.tensor([-2.0, 3.0])).tolist() == [0.0, 9.0]
    values = np.array([-1.5, -1.0, 0.0, 2.0, np.nan])
    assert TargetTransform("log").outside(values).tolist() == [True, True, True, False, False]
    assert TargetTransform("log1p").outside(values).tolist() == [True, True, False, False,
                                                                 False]
    assert TargetTransform("sqrt").outside(values).tolist() == [True, True, False, False, False]
    assert not TargetTransform().outside(values).any()


def test_an_unknown_transform_names_its_key():
    with pytest.raises(ConfigError, match=re.escape(
            "config key 'data.target_transform' must be one of ['none', 'log', 'log1p', "
            "'sqrt'], got 'boxcox'")):
        TimeSeriesDataModule(two_series(), **OPTIONS, target_transform="boxcox")


@pytest.mark.parametrize("loss", ["quantile", "gaussian_nll"])
def test_a_transformed_target_trains_as_the_table_transformed_beforehand(loss):
    """``target_transform=log1p`` on the raw table and ``none`` on a table whose target is
    log1p'd already give the same batches, the same training and the same forecasts, which
    the transform reports back in original units (the covariates stay as they are)."""
    raw = two_series(60)
    logged = raw.assign(y=np.log1p(raw["y"]))
    on_the_fly, beforehand = module(raw, target_transform="log1p"), module(logged)
    assert on_the_fly.fitted["target_transform"] == "log1p"
    assert np.allclose(on_the_fly.fitted["mean"], beforehand.fitted["mean"])
    assert np.allclose(on_the_fly.fitted["std"], beforehand.fitted["std"])
    index = list(range(len(on_the_fly.windows["val"])))
    a, b = (dm.windows["val"].__getitems__(index) for dm in (on_the_fly, beforehand))
    for key in ("inputs", "targets", "future", "naive"):
        assert torch.allclose(a[key], b[key], atol=1e-6), key
    task, reference = trained(on_the_fly, loss), trained(beforehand, loss)
    for p, q in zip(task.parameters(), reference.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-5)
    with torch.no_grad():
        got, expected = task.predict_step(a, 0), reference.predict_step(b, 0)
        truth = task.original_units(a["targets"], a["series"])
    assert set(got) == {"mean", "lower", "upper", "q0.1", "q0.5", "q0.9"}
    for key, value in expected.items():
        assert torch.allclose(got[key], torch.expm1(value), rtol=1e-4, atol=1e-4), key
    raw_truth = torch.tensor(raw.set_index(["id", "t"])["y"].loc[
        [("a", t) for t in range(48, 51)] + [("b", t) for t in range(48, 51)]].to_numpy())
    assert torch.allclose(truth[:, :, 0].flatten().double(), raw_truth, rtol=1e-5)


def test_targets_outside_the_domain_name_file_series_row_and_column(tmp_path):
    table = two_series(60)
    table.loc[(table["id"] == "b") & (table["t"] == 7), "y"] = -3.0  # p is negative: fine
    path = tmp_path / "series.csv"
    table.to_csv(path, index=False)
    line = int(np.flatnonzero((table["id"] == "b") & (table["t"] == 7))[0]) + 2
    with pytest.raises(DataError, match=re.escape(
            f"{path}: series 'b', row {line - 1} (line {line}), column 'y': -3 is not above -1 "
            "(data.target_transform=log1p needs above -1 targets)")):
        module(str(path), target_transform="log1p")
    with pytest.raises(DataError, match=re.escape(
            "series 'a', row 1 (line 2), column 'y': 0 is not positive "
            "(data.target_transform=log needs positive targets)")):
        module(str(path), target_transform="log")


def test_counts_and_a_mismatched_checkpoint_are_refused():
    with pytest.raises(ConfigError, match=re.escape(
            "config key 'data.target_transform' must be none with data.counts=true (the count "
            "likelihoods model the counts themselves), got 'log1p'")):
        TimeSeriesDataModule(two_series(), **OPTIONS, counts=True, target_transform="log1p")
    fitted = module(two_series(60), target_transform="sqrt").fitted
    with pytest.raises(ConfigError, match=re.escape(
            "config key 'data.target_transform' must be sqrt, as the fitted scalers (the "
            "checkpoint's) were, got 'none'")):
        module(two_series(60), fitted=fitted)


@pytest.mark.parametrize("name", ["log", "log1p"])
def test_a_student_t_on_a_log_scale_is_refused(name):
    dm = module(two_series(60).assign(y=lambda t: t["y"] + 1), target_transform=name)
    with pytest.raises(ConfigError, match=re.escape(
            "config key 'model.task_options.real.loss' must be gaussian_nll or quantile with "
            f"data.target_transform={name} (a Student-t's heavy tails, exponentiated, have no "
            "mean: its draws make CRPS and sample means explode), got 'student_t'")):
        Forecaster(spec=dm.spec.as_dict(), encoder={"hidden_size": 4}, loss="student_t")
    sqrt = module(two_series(60), target_transform="sqrt")
    assert Forecaster(spec=sqrt.spec.as_dict(), encoder={"hidden_size": 4},
                      loss="student_t").loss_name == "student_t"


def test_predictor_transforms_raw_history_and_checks_it():
    """Predictor.forecast from raw history equals predict_step on the data module's window,
    and a history value outside the domain is one line."""
    table = two_series(60)
    dm = module(table, target_transform="log1p")
    torch.manual_seed(0)
    task = Forecaster(spec=dm.spec.as_dict(), encoder={"hidden_size": 8}).eval()
    expected = task.predict_step(dm.windows["val"].__getitems__([0]), 0)  # series a, rows 42-50
    rows = table[table["id"] == "a"].iloc[42:51]
    history = rows[["y", "p", "f"]].to_numpy()[:6]
    forecast = Predictor(task).forecast(history, series="a", future=rows[["f"]].to_numpy()[6:])
    assert torch.allclose(forecast["mean"], expected["mean"][0], atol=1e-5)
    history[2, 0] = -1.0
    with pytest.raises(DataError, match=re.escape(
            "history row 0, step 2, target 'y': -1 is not above -1 (the model was trained "
            "with data.target_transform=log1p)")):
        Predictor(task).forecast(history, series="a", future=rows[["f"]].to_numpy()[6:])
