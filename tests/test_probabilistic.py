"""Probabilistic forecasts: distribution and quantile heads, sample paths, their metrics
(checked against reference computations) and bad configurations."""

from __future__ import annotations

import math
import re

import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from torchmetrics.regression import ContinuousRankedProbabilityScore

from seqlstm.data import TimeSeriesDataModule
from seqlstm.errors import ConfigError, DataError
from seqlstm.tasks import Forecaster
from seqlstm.tasks.distributions import QUANTILE_START, OutputDistribution, pinball_loss
from seqlstm.tasks.forecast_metrics import (
    IntervalCoverage,
    IntervalWidth,
    WeightedQuantileLoss,
)
from tests.helpers.timeseries_data import two_series

PROBABILISTIC = ["gaussian_nll", "student_t", "quantile"]


def series_data(**kwargs) -> TimeSeriesDataModule:
    dm = TimeSeriesDataModule(two_series(60), targets=["y"], time_column="t", id_column="id",
                              future_covariates=["f"], lookback=6, horizon=3, batch_size=8,
                              **kwargs)
    dm.setup("fit")
    return dm


def counts_table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"t": np.arange(80), "y": rng.poisson(4 + 3 * np.sin(np.arange(80)))})


def forecaster(dm: TimeSeriesDataModule, **kwargs) -> Forecaster:
    torch.manual_seed(0)
    return Forecaster(spec=dm.spec.as_dict(), encoder={"hidden_size": 8}, **kwargs)


def fit(task: Forecaster, dm: TimeSeriesDataModule) -> L.Trainer:
    trainer = L.Trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.fit(task, datamodule=dm)
    return trainer


@pytest.mark.parametrize("loss", PROBABILISTIC)
@pytest.mark.parametrize("strategy", ["direct", "autoregressive"])
def test_heads_train_and_predict_quantiles(strategy, loss):
    dm = series_data()
    task = forecaster(dm, strategy=strategy, loss=loss, quantiles=[0.1, 0.5, 0.9],
                      num_samples=50)
    metrics = fit(task, dm).callback_metrics
    assert {"val/coverage", "val/width", "val/wql"} <= set(metrics)
    assert ("val/crps" in metrics) == (loss != "quantile")
    assert all(math.isfinite(float(v)) for v in metrics.values())
    task.eval()
    torch.manual_seed(1)
    out = task.predict_step(dm.windows["val"].__getitems__([0, 1]), 0)
    assert set(out) == {"mean", "lower", "upper", "q0.1", "q0.5", "q0.9"}
    assert all(v.shape == (2, 3, 1) for v in out.values())
    assert (out["q0.1"] <= out["q0.5"]).all() and (out["q0.5"] <= out["q0.9"]).all()
    assert (out["lower"] <= out["upper"]).all()


def test_quantiles_never_cross():
    head = OutputDistribution("quantile", 2, [0.05, 0.25, 0.5, 0.75, 0.95])
    outputs = torch.randn(64, 4, head.width) * 5  # any raw outputs
    quantiles = head.quantile_values(outputs)  # (Q, B, H, n)
    assert quantiles.shape == (5, 64, 4, 2)
    assert (quantiles.diff(dim=0) >= 0).all()  # increments of softplus: never crossing


def test_quantile_head_starts_spaced_as_a_normal_however_many_levels():
    levels = [k / 100 for k in range(1, 100)]
    head = OutputDistribution("quantile", 1, levels)
    quantiles = head.quantile_values(torch.zeros(2, 3, head.width))[:, 0, 0, 0]  # (Q,)
    z = torch.tensor(stats.norm.ppf(levels), dtype=torch.float32)
    # zero outputs: the lowest quantile 0, then a normal's spacing with scale QUANTILE_START
    torch.testing.assert_close(quantiles, QUANTILE_START * (z - z[0]), rtol=1e-4, atol=1e-5)
    assert float(quantiles[-1] - quantiles[0]) == pytest.approx(0.233, abs=0.001)  # not 68


def test_pinball_loss_by_hand():
    quantiles = torch.tensor([[1.0, 4.0], [2.0, 5.0]])  # (Q=2, N=2)
    targets = torch.tensor([3.0, 3.0])
    # tau 0.1: errors 2, -1 -> 0.2, 0.9; tau 0.9: errors 1, -2 -> 0.9, 0.2
    assert float(pinball_loss(quantiles, targets, [0.1, 0.9])) == pytest.approx(2.2 / 4)


def test_interval_and_quantile_metrics_match_a_reference():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(40, 3))
    lower, upper = target - rng.uniform(-1, 2, (40, 3)), target + rng.uniform(-1, 2, (40, 3))
    levels = (0.1, 0.5, 0.9)
    quantiles = np.stack([target + rng.normal(size=(40, 3)) for _ in levels])
    coverage, width = IntervalCoverage(), IntervalWidth()
    wql = WeightedQuantileLoss(levels)
    for rows in (slice(0, 25), slice(25, 40)):  # two batches: sums over the epoch
        t = torch.from_numpy(target[rows]).float()
        lo, hi = torch.from_numpy(lower[rows]).float(), torch.from_numpy(upper[rows]).float()
        coverage.update(lo, hi, t)
        width.update(lo, hi)
        wql.update(torch.from_numpy(quantiles[:, rows]).float(), t)
    assert float(coverage.compute()) == pytest.approx(np.mean((target >= lower)
                                                              & (target <= upper)), abs=1e-6)
    assert float(width.compute()) == pytest.approx(np.mean(upper - lower), rel=1e-5)
    reference = np.mean([2 * np.sum(np.maximum(q * (target - quantiles[k]),
                                               (q - 1) * (target - quantiles[k])))
                         / np.sum(np.abs(target)) for k, q in enumerate(levels)])
    assert float(wql.compute()) == pytest.approx(reference, rel=1e-5)


def test_crps_of_a_standard_normal_matches_the_closed_form():
    torch.manual_seed(0)
    crps = ContinuousRankedProbabilityScore()
    crps.update(torch.randn(200, 400), torch.zeros(200))
    closed = 2 * stats.norm.pdf(0) - 1 / math.sqrt(math.pi)  # CRPS(N(0, 1), 0)
    assert float(crps.compute()) == pytest.approx(closed, rel=0.03)


def test_student_t_quantiles_from_draws_match_scipy():
    head = OutputDistribution("student_t", 1)
    raw = torch.tensor([0.5, math.log(math.e - 1), math.log(math.exp(3) - 1)])  # loc, s=1, df=5
    outputs = raw.expand(1, 1, 3).contiguous()
    mean, std = torch.tensor([[[10.0]]]), torch.tensor([[[2.0]]])
    torch.manual_seed(0)
    values = head.quantiles(outputs, [0.1, 0.9], mean, std, 40000).flatten()
    scale = (1 + 1e-3) * 2
    expected = stats.t.ppf([0.1, 0.9], df=5, loc=10 + 0.5 * 2, scale=scale)
    assert values.tolist() == pytest.approx(expected.tolist(), abs=0.1)  # ~4 standard errors


def test_autoregressive_sample_paths_feed_back_their_own_draws():
    dm = series_data()
    task = forecaster(dm, strategy="autoregressive", loss="gaussian_nll").eval()
    batch = task.with_defaults(dm.windows["val"].__getitems__([0, 1]))
    torch.manual_seed(0)
    paths = task.sample_paths(batch, 16)
    assert paths.shape == (16, 2, 3, 1)
    assert paths[:, :, 0].std(dim=0).min() > 0  # the first step already varies
    torch.manual_seed(0)
    assert torch.equal(task.sample_paths(batch, 16), paths)  # seeded: reproducible


def test_count_losses_need_checked_counts():
    dm = TimeSeriesDataModule(counts_table(), targets=["y"], time_column="t", lookback=6,
                              horizon=2, counts=True)
    dm.setup("fit")
    for loss in ("poisson", "negative_binomial"):
        task = forecaster(dm, loss=loss, num_samples=20)
        metrics = fit(task, dm).callback_metrics
        assert math.isfinite(float(metrics["val/crps"]))
        task.eval()
        out = task.predict_step(dm.windows["val"].__getitems__([0]), 0)
        assert (out["lower"] >= 0).all() and (out["lower"] == out["lower"].round()).all()
    plain = TimeSeriesDataModule(counts_table(), targets=["y"], time_column="t", lookback=6,
                                 horizon=2)
    plain.setup("fit")
    with pytest.raises(ConfigError, match=re.escape(
            "config key 'model.task_options.real.loss' must be a count loss (poisson) only "
            "with data.counts=true")):
        forecaster(plain, loss="poisson")


def test_negative_counts_name_their_row(tmp_path):
    table = counts_table()
    table.loc[5, "y"] = -2
    path = tmp_path / "counts.csv"
    table.to_csv(path, index=False)
    dm = TimeSeriesDataModule(path, targets=["y"], time_column="t", lookback=6, horizon=2,
                              counts=True)
    with pytest.raises(DataError, match=re.escape(
            f"{path}: series '0', row 6 (line 7), column 'y': -2 is not a count "
            "(data.counts=true: targets must be non-negative whole numbers)")):
        dm.setup("fit")


@pytest.mark.parametrize("quantiles", [[0.9, 0.1], [0.1, 1.0], [0.0, 0.5], [0.5, 0.5]])
def test_bad_quantile_lists(quantiles):
    with pytest.raises(ConfigError, match=re.escape(
            "config key 'model.task_options.real.quantiles' must be a sorted list of distinct "
            f"numbers in (0, 1), e.g. [0.1, 0.5, 0.9], got {quantiles}")):
        forecaster(series_data(), loss="quantile", quantiles=quantiles)


def test_predictions_table_has_a_column_per_quantile():
    dm = series_data(holdout=3)  # the last 3 rows give the horizon's known covariates
    task = forecaster(dm, loss="quantile", quantiles=[0.1, 0.5, 0.9]).eval()
    dm.setup("predict")
    outputs = [task.predict_step(b, 0) for b in dm.predict_dataloader()]
    frame = dm.format_predictions(outputs)
    assert {"y", "y_lower", "y_upper", "y_q0.1", "y_q0.5", "y_q0.9"} <= set(frame.columns)
    assert (frame["y_q0.1"] <= frame["y_q0.9"]).all()


def test_sunspots_cycle_tests_thirty_origins_of_eleven_years(compose_train):
    """The recipe of the sunspots coverage check: enough test targets to measure a coverage."""
    from seqlstm.cli.builders import build_datamodule

    cfg = compose_train("experiment=sunspots_cycle")
    assert cfg.model.task_options.real.normalization == "revin"
    data = build_datamodule(cfg.data)
    data.setup("test")
    targets = torch.cat([batch["targets"] for batch in data.test_dataloader()])
    assert targets.shape == (30, 11, 1)  # 30 origins x 11 years: 330 test targets
    first = int(data.store.time[data.cuts[0, 2] + data.lookback])
    assert first == 1969  # the years 1969-2008
