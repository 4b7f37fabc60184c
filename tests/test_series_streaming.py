"""The out-of-core first read: a long table streamed in chunks into the memory-mapped cache
gives the in-memory store array for array, and the same errors, leaving nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from seqlstm.data import TimeSeriesDataModule
from seqlstm.data.series import streaming
from seqlstm.data.series.reading import TableSchema, read_store
from seqlstm.data.series.splits import fit_scaler, split_cuts
from seqlstm.data.series.store import SeriesStore
from seqlstm.data.series.tables import Source
from seqlstm.errors import ConfigError, DataError
from tests.conftest import REPO_ROOT

LENGTHS = [5, 9, 3, 12, 7, 1, 8]  # series of 1 to 12 rows: chunks of 7 rows cross them


def table(grouped: bool, seed: int = 0) -> pd.DataFrame:
    """Seven series with a covariate (some values missing) and two static covariates; rows
    grouped by series, or interleaved by time."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "id": np.concatenate([[f"s{i:02d}"] * n for i, n in enumerate(LENGTHS)]),
        "t": np.concatenate([np.arange(n) * 3 + i for i, n in enumerate(LENGTHS)]),
        "y": rng.normal(size=sum(LENGTHS)).round(4),
        "x": np.where(rng.random(sum(LENGTHS)) < 0.1, np.nan, rng.normal(size=sum(LENGTHS))),
        "region": np.concatenate([[["n", "s", "e"][i % 3]] * n for i, n in enumerate(LENGTHS)]),
        "size": np.concatenate([[i * 1.5] * n for i, n in enumerate(LENGTHS)])})
    return frame if grouped else frame.sort_values("t", kind="stable").reset_index(drop=True)


SCHEMA = TableSchema.from_config(["y"], ["x"], [], "t", "id", static_categorical=["region"],
                                 static_real=["size"])


def write(frame: pd.DataFrame, path) -> None:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path,
                       row_group_size=10)


def both(path, schema, tmp_path, chunk_rows: int = 7):
    memory = read_store(path, schema, cache_dir=tmp_path / "memory", out_of_core=False)
    streamed = read_store(path, schema, cache_dir=tmp_path / "streamed", out_of_core=True,
                          chunk_rows=chunk_rows)
    return memory, streamed


def assert_same(a, b) -> None:
    assert a.names == b.names and a.source == b.source and a.period == b.period
    for name in ("offsets", "values", "time", "rows"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype and x.shape == y.shape, name
            np.testing.assert_array_equal(x, y, err_msg=name)
    assert (a.statics is None) == (b.statics is None)
    if a.statics is not None:
        assert a.statics.as_index() == b.statics.as_index()
        np.testing.assert_array_equal(a.statics.codes, b.statics.codes)
        np.testing.assert_array_equal(a.statics.values, b.statics.values)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("grouped", [True, False], ids=["grouped", "interleaved"])
def test_streamed_store_equals_the_in_memory_store(tmp_path, suffix, grouped):
    path = tmp_path / f"s{suffix}"
    write(table(grouped), path)
    memory, streamed = both(path, SCHEMA, tmp_path)
    assert isinstance(streamed.values, np.memmap) and (streamed.rows is None) == grouped
    assert_same(memory, streamed)


@pytest.mark.parametrize("chunk_rows", [1, 4, 1000])
def test_dates_without_ids_and_any_chunk_size(tmp_path, chunk_rows):
    path = tmp_path / "one.csv"
    pd.DataFrame({"day": pd.date_range("2024-01-01", periods=23).strftime("%d/%m/%Y"),
                  "y": np.arange(23.0)}).to_csv(path, index=False)
    schema = TableSchema.from_config("y", [], [], "day", None, "%d/%m/%Y")
    memory, streamed = both(path, schema, tmp_path, chunk_rows)
    assert streamed.time.dtype == np.dtype("datetime64[ns]")
    assert_same(memory, streamed)
    no_time = TableSchema.from_config("y", [], [], None, None)
    assert_same(*both(path, no_time, tmp_path / "positions", chunk_rows))


def fault(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """One bad value past the first chunks (table row 31, in the 5th chunk of 7 rows)."""
    frame = frame.astype({"y": object, "t": object, "size": object, "region": object})
    row = 30
    if kind == "number":
        frame.loc[row, "y"] = "abc"
    elif kind == "time":  # dates as text (text mixing numbers and dates is read per chunk)
        frame["t"] = (pd.Timestamp("2024-01-01") + pd.to_timedelta(frame["t"].astype(int), "D")
                      ).dt.strftime("%Y-%m-%d").astype(object)
        frame.loc[row, "t"] = "soon"
    elif kind == "id":
        frame.loc[row, "id"] = None
    elif kind in ("repeat", "earlier"):
        owner = frame.loc[row, "id"]
        earlier = frame.index[(frame["id"] == owner) & (frame.index < row)][-1]
        frame.loc[row, "t"] = frame.loc[earlier, "t"] - (kind == "earlier")
    elif kind == "varies":
        frame.loc[row, "region"] = "w"
    elif kind == "static_missing":
        frame.loc[row, "size"] = None
    elif kind == "static_varies":
        frame.loc[row, "size"] = 99.0
    elif kind == "category_empty":
        frame.loc[row, "region"] = None
    return frame


@pytest.mark.filterwarnings("ignore:Could not infer format")  # a chunk starting at "soon"
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("grouped", [True, False], ids=["grouped", "interleaved"])
@pytest.mark.parametrize("kind", ["number", "time", "id", "repeat", "earlier", "varies",
                                  "static_missing", "static_varies", "category_empty"])
def test_bad_input_gets_the_same_error_and_leaves_no_cache(tmp_path, suffix, grouped, kind):
    path = tmp_path / f"bad{suffix}"
    frame = fault(table(grouped), kind)
    if suffix == ".parquet" and kind in ("number", "time", "static_varies"):
        frame = frame.astype({"y": str, "t": str, "size": str})  # Parquet columns of one type
    write(frame, path)
    errors = []
    for out_of_core in (False, True):
        with pytest.raises(DataError) as caught:
            read_store(path, SCHEMA, cache_dir=tmp_path / "cache", out_of_core=out_of_core,
                       chunk_rows=7)
        errors.append(str(caught.value))
    assert errors[0] == errors[1] and str(path) in errors[0] and "\n" not in errors[0]
    assert list((tmp_path / "cache").iterdir()) == []  # no entry, no scratch folder


def test_a_missing_column_or_file_is_named_before_reading(tmp_path):
    path = tmp_path / "s.csv"
    write(table(True), path)
    schema = TableSchema.from_config(["y"], ["nope"], [], "t", "id")
    with pytest.raises(DataError, match=r"no column \(data.past_covariates\) 'nope'"):
        read_store(path, schema, cache_dir=tmp_path / "c", out_of_core=True)
    with pytest.raises(DataError, match=r"data\.path: no such file"):
        read_store(tmp_path / "gone.csv", schema, cache_dir=tmp_path / "c", out_of_core=True)
    (tmp_path / "empty.csv").write_text("id,t,y,x\n")
    with pytest.raises(DataError, match="the table has no rows"):
        read_store(tmp_path / "empty.csv", TableSchema.from_config(["y"], [], [], "t", "id"),
                   cache_dir=tmp_path / "c", out_of_core=True)


def test_when_the_first_read_is_streamed(tmp_path, monkeypatch):
    path = tmp_path / "s.parquet"
    write(table(True), path)
    assert not streaming.streams(path, "long", tmp_path, "auto")  # a small file: in memory
    assert not streaming.streams(path, "long", tmp_path, False)
    monkeypatch.setattr(streaming, "AUTO_BYTES", 1)
    assert streaming.streams(path, "long", tmp_path, "auto")
    assert not streaming.streams(path, "long", None, "auto")  # nowhere to map it
    assert not streaming.streams(path, "wide", tmp_path, "auto")  # wide tables: in memory
    with pytest.raises(ConfigError, match=r"data\.cache_dir"):
        streaming.streams(path, "long", None, True)
    with pytest.raises(ConfigError, match=r"data\.out_of_core"):
        streaming.streams(path, "wide", tmp_path, True)
    with pytest.raises(ConfigError, match=r"data\.out_of_core"):
        streaming.streams(path, "long", tmp_path, "sometimes")


def test_data_module_trains_on_the_streamed_store(tmp_path):
    path = tmp_path / "s.parquet"
    frame = table(False, seed=1)
    frame = frame[frame["id"].isin(["s01", "s03"])]  # the series long enough for windows
    write(frame, path)
    modules = []
    for out_of_core in (False, True):
        dm = TimeSeriesDataModule(path, targets=["y"], time_column="t", id_column="id",
                                  past_covariates=["x"], missing="interpolate", lookback=1,
                                  horizon=1, split=[0.6, 0.2, 0.2], out_of_core=out_of_core,
                                  cache_dir=str(tmp_path / f"cache-{out_of_core}"))
        dm.setup("fit")
        modules.append(dm)
    a, b = modules
    assert a.spec.extra == b.spec.extra
    assert torch.equal(a.windows["train"].__getitems__([0, 3])["inputs"],
                       b.windows["train"].__getitems__([0, 3])["inputs"])


def test_scalers_fitted_block_by_block_equal_the_whole_array_fit():
    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 30, 50)
    lengths[[3, 49]] = 0  # empty series, the last one too
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    store = SeriesStore([str(i) for i in range(50)], offsets,
                        rng.normal(size=(offsets[-1], 3)), np.arange(offsets[-1]), Source("x"))
    cuts = split_cuts(store.lengths, [0.7, 0.15, 0.15])
    whole = fit_scaler(store, cuts).as_extra()
    assert all(fit_scaler(store, cuts, block=block).as_extra() == whole for block in (1, 7, 100))


PEAK_READ = """
import sys
from pathlib import Path
from seqlstm.data.series.reading import TableSchema, read_store
def peak():
    return next(int(line.split()[1]) * 1024 for line in open("/proc/self/status")
                if line.startswith("VmHWM"))
folder, schema = Path(sys.argv[1]), TableSchema.from_config("y", [], [], "t", "id")
read_store(folder / "tiny.parquet", schema, cache_dir=folder / "warm", out_of_core=True)
before = peak()
store = read_store(folder / "big.parquet", schema, cache_dir=folder / "cache",
                   out_of_core=True, chunk_rows=1 << 16)
print(peak() - before, store.values.nbytes + store.time.nbytes + store.rows.nbytes)
"""


@pytest.mark.slow
def test_the_streamed_read_holds_far_less_than_the_table(tmp_path):
    """8 M rows of 20,000 series ordered by time (a 183 MiB store): a fresh process's peak
    resident set grows by well under half the store (the in-memory read: about 3x)."""
    series, steps = 20_000, 400
    pq.write_table(pa.table({"id": pa.array(np.tile([f"s{i}" for i in range(series)], steps)),
                             "t": np.repeat(np.arange(steps), series),
                             "y": np.random.default_rng(0).normal(size=series * steps)}),
                   tmp_path / "big.parquet", row_group_size=1 << 18)
    pq.write_table(pa.table({"id": ["a", "b", "a"], "t": [0, 0, 1], "y": [1.0, 2.0, 3.0]}),
                   tmp_path / "tiny.parquet")
    done = subprocess.run([sys.executable, "-c", PEAK_READ, str(tmp_path)], check=True,
                          capture_output=True, text=True, env={**os.environ,
                                                               "PYTHONPATH": str(REPO_ROOT)})
    grown, store = (int(n) for n in done.stdout.split())
    assert store == series * steps * 24 and grown < store / 2
