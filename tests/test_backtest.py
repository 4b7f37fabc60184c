"""Backtests: rolling origins over the test period, batched; fold 1 scores as seqlstm-eval."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from seqlstm.cli.backtest import backtest
from seqlstm.cli.evaluate import evaluate
from seqlstm.cli.train import train
from seqlstm.data import TimeSeriesDataModule
from seqlstm.data.series.backtest import backtest_windows
from seqlstm.errors import DataError
from tests.helpers.reliability import compose_in
from tests.helpers.timeseries_data import two_series


def series_module(length: int, **options) -> TimeSeriesDataModule:
    dm = TimeSeriesDataModule(two_series(length), targets=["y"], time_column="t",
                              id_column="id", lookback=6, horizon=3, batch_size=8, **options)
    dm.setup("fit")
    return dm


def test_folds_roll_through_the_test_split_of_every_series():
    dm = series_module(100)  # test split: rows 85-99 of each series
    plan = backtest_windows(dm, folds=3, step=3)
    assert plan.origins.tolist() == [[91, 94, 97]] * 2
    assert len(plan.windows) == 6
    batch = plan.windows.__getitems__(list(range(6)))  # series-major: a0 a1 a2 b0 b1 b2
    assert batch["series"].tolist() == [0, 0, 0, 1, 1, 1]
    truth = dm.scaler.unscale(batch["targets"].double(), batch["series"], slice(0, 1))
    assert truth[:3, :, 0].round().tolist() == [[91, 92, 93], [94, 95, 96], [97, 98, 99]]
    assert plan.times.tolist() == [[91, 94, 97]] * 2


def test_too_many_folds_is_one_line():
    dm = series_module(100)
    with pytest.raises(DataError, match=re.escape(
            "<DataFrame>: the test split of series 'a' has 15 rows, room for 3 fold(s) of "
            "data.lookback + data.horizon = 9 rows 3 apart, not folds=4; use fewer folds, a "
            "smaller step or a larger test fraction in data.split")):
        backtest_windows(dm, folds=4, step=3)


@pytest.mark.slow
@pytest.mark.parametrize("transform", ["none", "log1p"])
def test_fold_one_scores_as_seqlstm_eval_and_files_are_written(compose_train, tmp_path: Path,
                                                               transform: str):
    """A test split of exactly one window per series: fold 1 is that window, so its metrics
    are those seqlstm-eval reports (CRPS aside: it draws samples), with the checkpoint's
    target transform applied by both."""
    table = tmp_path / "series.csv"
    two_series(60).to_csv(table, index=False)  # test split: rows 51-59, one window of 9
    run = tmp_path / "run"
    train(compose_in(compose_train, run, "data=timeseries", f"data.path={table}",
                     "data.targets=[y]", "data.time_column=t", "data.id_column=id",
                     "data.lookback=6", "data.horizon=3", "model.encoder.hidden_size=8",
                     "model.task_options.real.loss=gaussian_nll", "trainer.max_epochs=2",
                     f"data.target_transform={transform}",
                     "trainer.enable_progress_bar=false", "~callbacks.rich_progress_bar",
                     "test=false"))
    ckpt = next((run / "checkpoints").glob("epoch*.ckpt"))
    expected = evaluate(compose_train(f"ckpt_path={ckpt}", config_name="eval"))
    out = tmp_path / "backtest"
    result, written = backtest(compose_train(f"ckpt_path={ckpt}", "folds=1",
                                             f"output_dir={out}", config_name="backtest"))
    fold = result.folds.iloc[0]
    for name in ("mae", "rmse", "smape", "mase", "coverage", "width", "wql"):
        assert fold[name] == pytest.approx(expected[f"test/{name}"], rel=1e-6), name
    assert sorted(p.name for p in written) == ["backtest.csv", "backtest.png",
                                               "backtest_folds.csv", "backtest_forecasts.csv"]
    per_series = pd.read_csv(out / "backtest.csv")
    assert per_series["series"].tolist() == ["a", "b"] and set(per_series["fold"]) == {1}
    steps = pd.read_csv(out / "backtest_forecasts.csv")
    assert steps["t"].tolist() == [57, 58, 59] * 2 and np.isfinite(steps["y_lower"]).all()
    assert np.allclose(steps["y_true"], [57, 58, 59, 670, 680, 690])  # original units


def test_refit_per_fold_fine_tunes_a_copy_before_each_origin():
    from seqlstm.backtesting import run_backtest
    from seqlstm.tasks import Forecaster

    dm = series_module(100)
    torch.manual_seed(0)
    task = Forecaster(spec=dm.spec.as_dict(), encoder={"hidden_size": 8})
    before = {k: v.clone() for k, v in task.state_dict().items()}
    still = run_backtest(task, dm, folds=2, step=3)
    refit = run_backtest(task, dm, folds=2, step=3, refit_epochs=1)
    assert all(torch.equal(v, task.state_dict()[k]) for k, v in before.items())  # a copy
    assert refit.series[["fold", "series"]].values.tolist() == \
        still.series[["fold", "series"]].values.tolist() == [[1, "a"], [2, "a"], [1, "b"],
                                                             [2, "b"]]
    assert not np.allclose(refit.series["mae"], still.series["mae"])


@pytest.mark.parametrize("loss, transform", [("mse", "none"), ("quantile", "none"),
                                             ("quantile", "log1p")])
def test_every_fold_scores_as_the_tasks_metrics_on_its_windows(loss: str, transform: str):
    """The per-fold table (one pass, grouped sums) against the task's own metric objects
    updated with each fold's windows alone; the per-series rows pool into the fold's."""
    from seqlstm.backtesting import run_backtest
    from seqlstm.tasks import Forecaster

    dm = series_module(100, target_transform=transform)
    torch.manual_seed(0)
    task = Forecaster(spec=dm.spec.as_dict(), encoder={"hidden_size": 8}, loss=loss).eval()
    result = run_backtest(task, dm, folds=3, step=3)
    plan = backtest_windows(dm, folds=3, step=3)
    for k in range(3):
        batch = task.with_defaults(plan.windows.__getitems__([k, 3 + k]))  # fold k of a, b
        metrics = task.build_metrics("test")
        with torch.no_grad():
            task.update_metrics(metrics, task.step_outputs(batch, "test"), batch, torch.zeros(()))
        expected = {name: float(value) for name, value in metrics.compute().items()}
        assert sorted(result.folds.columns[1:]) == sorted(expected)
        for name, value in expected.items():
            assert result.folds[name][k] == pytest.approx(value, rel=1e-5), (k, name)
    rows = result.series.set_index(["fold", "series"])
    for k in range(3):  # two series of equal length: the fold's MAE is their mean
        assert rows.loc[(k + 1, "a"), "mae"] + rows.loc[(k + 1, "b"), "mae"] == \
            pytest.approx(2 * result.folds["mae"][k])
