"""TimeSeriesDataModule: reading, windows, splits, scalers fitted on train, bad input."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch

from seqlstm.data import TimeSeriesDataModule
from seqlstm.data.series.windows import SeriesWindows
from seqlstm.errors import ConfigError, DataError
from tests.helpers.timeseries_data import two_series

STD28 = float(np.std(np.arange(28)))  # train rows of a 40-step series: 0..27


def module(path, **kwargs) -> TimeSeriesDataModule:
    options = {"targets": ["y"], "time_column": "t", "lookback": 4, "horizon": 2,
               "batch_size": 8, **kwargs}
    return TimeSeriesDataModule(path, **options)


def covariate_module(**kwargs) -> TimeSeriesDataModule:
    dm = module(two_series(), id_column="id", past_covariates=["p"], future_covariates=["f"],
                **kwargs)
    dm.setup("fit")
    return dm


def test_windows_stay_inside_their_split_and_series():
    dm = covariate_module()
    # 40 rows per series: train 0-27, val 28-33, test 34-39; windows of 6 rows, stride 1
    assert {k: len(w) for k, w in dm.windows.items()} == {"train": 46, "val": 2, "test": 2}
    bounds = {"train": (0, 28), "val": (28, 34), "test": (34, 40)}
    for name, (lo, hi) in bounds.items():
        starts = dm.windows[name].starts % 40  # the row within its series
        assert starts.min() >= lo and (starts + 6).max() <= hi
    assert dm.windows["val"].series.tolist() == [0, 1]


def test_stride_spaces_window_starts():
    dm = module(two_series(), id_column="id", stride=5)
    dm.setup("fit")
    assert dm.windows["train"].starts.tolist() == [0, 5, 10, 15, 20, 40, 45, 50, 55, 60]


def test_scalers_are_fitted_per_series_on_train_rows_alone():
    dm = covariate_module()
    fitted = dm.spec.extra
    assert fitted["series"] == ["a", "b"]
    assert fitted["columns"] == ["y", "p", "f"]
    assert fitted["mean"][0] == pytest.approx([13.5, -13.5, 0.5])
    assert fitted["mean"][1] == pytest.approx([235.0, 13.5, 0.5])
    assert fitted["std"][0] == pytest.approx([STD28, STD28, 0.5])
    assert fitted["std"][1] == pytest.approx([10 * STD28, STD28, 0.5])

    table = two_series()
    table.loc[table.t >= 28, "y"] = 1e6  # val and test rows change; the scalers must not
    dm = module(table, id_column="id", past_covariates=["p"], future_covariates=["f"])
    dm.setup("fit")
    assert dm.spec.extra["mean"] == fitted["mean"]
    assert dm.spec.extra["std"] == fitted["std"]


def test_batch_layout_by_hand():
    dm = covariate_module()
    batch = dm.windows["train"].__getitems__([0, 23])  # first windows of series a and b
    assert batch["inputs"].shape == (2, 4, 3)
    assert batch["targets"].shape == (2, 2, 1) and batch["future"].shape == (2, 2, 1)
    assert batch["series"].tolist() == [0, 1]
    a = batch["inputs"][0]
    assert a[:, 0].tolist() == pytest.approx([(k - 13.5) / STD28 for k in range(4)])
    assert a[:, 1].tolist() == pytest.approx([(-k + 13.5) / STD28 for k in range(4)])
    assert a[:, 2].tolist() == [1, -1, 1, -1]  # f of steps 1..4: one step ahead
    assert batch["future"][0, :, 0].tolist() == [-1, 1]  # f of steps 4, 5
    assert batch["targets"][0, :, 0].tolist() == pytest.approx([(4 - 13.5) / STD28,
                                                                 (5 - 13.5) / STD28])
    assert dm.spec.as_dict() | {"extra": None} == {
        "input_kind": "real", "target_kind": "real", "input_size": 3, "output_size": 1,
        "horizon": 2, "variable_length": False, "vocab": None, "labels": None, "extra": None}


def test_seasonal_naive_repeats_the_last_season():
    dm = module(two_series(60), id_column="id", lookback=4, horizon=3, season=2)
    dm.setup("fit")
    naive = dm.windows["train"].__getitems__([0])["naive"][0, :, 0]
    naive = naive * dm.spec.extra["std"][0][0] + dm.spec.extra["mean"][0][0]
    assert naive.tolist() == pytest.approx([2, 3, 2])  # steps 4, 5, 6 <- 2, 3, 2


def test_loader_gathers_whole_batches(monkeypatch):
    def one_by_one(self, index):
        raise AssertionError("windows must be gathered a batch at a time")

    monkeypatch.setattr(SeriesWindows, "__getitem__", one_by_one)
    dm = covariate_module()
    batches = list(dm.train_dataloader())
    assert [b["inputs"].shape[0] for b in batches] == [8] * 5 + [6]
    assert torch.cat([b["series"] for b in batches]).bincount().tolist() == [23, 23]


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npz", "frame"])
def test_every_format_gives_the_same_windows(suffix, tmp_path):
    table = two_series()
    if suffix == "frame":
        path = table
    else:
        path = tmp_path / f"series{suffix}"
        if suffix == ".csv":
            table.to_csv(path, index=False)
        elif suffix == ".parquet":
            table.to_parquet(path)
        else:
            np.savez(path, **{c: np.asarray(table[c].tolist()) for c in table.columns})
    dm = module(path, id_column="id", past_covariates=["p"], future_covariates=["f"])
    dm.setup("fit")
    reference = covariate_module()
    assert torch.equal(dm.windows["train"].values, reference.windows["train"].values)
    assert dm.spec.extra == reference.spec.extra


def test_npy_columns_are_numbered(tmp_path):
    np.save(tmp_path / "y.npy", np.stack([np.arange(40.0), np.arange(40.0) * 2], axis=1))
    dm = TimeSeriesDataModule(tmp_path / "y.npy", targets=[1], past_covariates=["0"],
                              lookback=4, horizon=2)
    dm.setup("fit")
    assert dm.spec.extra["columns"] == ["1", "0"]
    assert dm.spec.extra["mean"][0] == pytest.approx([27.0, 13.5])


def test_in_memory_frames_do_not_travel_in_checkpoints():
    dm = module(two_series(), id_column="id")
    assert dm.hparams["path"] is None and "fitted" not in dm.hparams


# -- missing values ---------------------------------------------------------------------------
def gappy(tmp_path, values) -> str:
    path = tmp_path / "gappy.csv"
    pd.DataFrame({"t": range(len(values)), "y": values}).to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize(("policy", "expected"), [
    ("ffill", [1, 1, 3, 3, 3, 6]),
    ("interpolate", [1, 2, 3, 4, 5, 6]),
    ("drop", [1, 3, 6]),
])
def test_missing_value_policies(policy, expected, tmp_path):
    values = [1, None, 3, None, None, 6, *list(range(7, 27))]
    dm = module(gappy(tmp_path, values), missing=policy, lookback=2, horizon=1)
    dm.setup("fit")
    filled = dm.windows["train"].values[:, 0]  # windows keep original units
    assert filled[: len(expected)].tolist() == pytest.approx(expected)


def test_missing_value_is_an_error_by_default(tmp_path):
    path = gappy(tmp_path, [1, 2, None, *list(range(20))])
    with pytest.raises(DataError, match=re.escape(
            f"{path}: series '0', row 3 (line 4), t 2: column 'y' is missing; set data.missing "
            "to ffill, interpolate or drop to handle it")):
        module(path).setup("fit")


def test_ffill_cannot_fill_a_leading_gap(tmp_path):
    path = gappy(tmp_path, [None, *list(range(20))])
    with pytest.raises(DataError, match=re.escape(
            f"{path}: series '0', row 1 (line 2), t 0: column 'y' is missing; data.missing=ffill "
            "cannot fill a gap at the edge of a series")):
        module(path, missing="ffill").setup("fit")


# -- bad input --------------------------------------------------------------------------------
def csv(tmp_path, text: str) -> str:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    return str(path)


def rows(times, values=None) -> str:
    values = values or range(len(times))
    return "t,y\n" + "".join(f"{t},{v}\n" for t, v in zip(times, values, strict=True))


def test_unsorted_times(tmp_path):
    path = csv(tmp_path, rows([0, 1, 3, 2, *list(range(4, 20))]))
    with pytest.raises(DataError, match=re.escape(
            f"{path}: series '0', row 4 (line 5): t 2 is earlier than the previous row's 3; "
            "sort the rows by time")):
        module(path).setup("fit")


def test_duplicate_times_name_the_series(tmp_path):
    table = two_series()
    table.loc[(table.id == "b") & (table.t == 5), "t"] = 4  # rows 10, 12 are b's steps 4, 5
    with pytest.raises(DataError, match=re.escape(
            "<DataFrame>: series 'b', row 12: t 4 repeats the previous row's 4; each time may "
            "appear once per series")):
        module(table, id_column="id").setup("fit")


def test_non_numeric_value(tmp_path):
    path = csv(tmp_path, rows(range(20), [1, 2, "abc", *list(range(17))]))
    with pytest.raises(DataError, match=re.escape(
            f"{path}: row 3 (line 4), column 'y': 'abc' is not a number")):
        module(path).setup("fit")


def test_missing_target_column(tmp_path):
    path = csv(tmp_path, rows(range(20)))
    with pytest.raises(DataError, match=re.escape(
            f"{path}: no target column 'z'; the columns are ['t', 'y']")):
        module(path, targets=["z"]).setup("fit")


def test_missing_covariate_column(tmp_path):
    path = csv(tmp_path, rows(range(20)))
    with pytest.raises(DataError, match=re.escape(
            f"{path}: no column (data.future_covariates) 'hour'; the columns are ['t', 'y']")):
        module(path, future_covariates=["hour"]).setup("fit")


def test_series_shorter_than_a_window(tmp_path):
    table = two_series()
    table = table[(table.id == "a") | (table.t < 5)]
    with pytest.raises(DataError, match=re.escape(
            "<DataFrame>: series 'b' has 5 rows, fewer than data.lookback + data.horizon = 6")):
        module(table, id_column="id").setup("fit")


def test_split_without_a_window(tmp_path):
    with pytest.raises(DataError, match=re.escape(
            "<DataFrame>: the val split holds no window of data.lookback + data.horizon = 12 "
            "rows (its longest series part has 6); use longer series, a larger val fraction in "
            "data.split or a smaller data.lookback")):
        module(two_series(), id_column="id", lookback=10).setup("fit")


def test_unknown_series_with_fitted_scalers():
    fitted = covariate_module().spec.extra
    table = two_series()
    table["id"] = table["id"].replace({"b": "c"})
    dm = module(table, id_column="id", past_covariates=["p"], future_covariates=["f"],
                fitted=fitted)
    with pytest.raises(DataError, match=re.escape(
            "<DataFrame>: series 'c' was not in the training data (known: ['a', 'b']); it has no "
            "fitted scaler")):
        dm.setup("fit")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"lookback": 3, "season": 4}, "config key 'data.lookback' must be >= one season before "
     "every horizon step (season * ceil(horizon / season) = 4), got 3"),
    ({"horizon": 0}, "config key 'data.horizon' must be an integer >= 1, got 0"),
    ({"split": [0.5, 0.5]}, "config key 'data.split' must be three fractions"),
    ({"targets": ["y", "y"]}, "must be distinct column names"),
])
def test_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        module(two_series(), **kwargs)


def test_unknown_missing_policy():
    with pytest.raises(ConfigError, match=re.escape(
            "config key 'data.missing' must be one of ['error', 'ffill', 'interpolate', "
            "'drop'], got 'mean'")):
        module(two_series(), id_column="id", missing="mean").setup("fit")


def test_dates_are_parsed_checked_and_named_without_midnight(tmp_path):
    days = list(pd.date_range("2024-01-01", periods=40).strftime("%Y-%m-%d"))
    good = module(csv(tmp_path, rows(days)), time_format="%Y-%m-%d")
    good.setup("predict")
    assert str(good.forecasts[0].times[0]) == "2024-02-10 00:00:00"  # continued by one day
    days[5], days[6] = days[6], days[5]
    path = csv(tmp_path, rows(days))
    with pytest.raises(DataError, match=re.escape(
            f"{path}: series '0', row 7 (line 8): t 2024-01-06 is earlier than the previous "
            "row's 2024-01-07; sort the rows by time")):
        module(path).setup("fit")
    days[5] = "2024-13-01"
    path = csv(tmp_path, rows(days))
    with pytest.raises(DataError, match=re.escape(
            f"{path}: row 6 (line 7), column 't': '2024-13-01' is not a time (format "
            "'%Y-%m-%d')")):
        module(path, time_format="%Y-%m-%d").setup("fit")
