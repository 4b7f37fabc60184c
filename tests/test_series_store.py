"""The columnar series store: grouping, the wide layout, the memory-mapped cache, ids."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from seqlstm.data import TimeSeriesDataModule
from seqlstm.data.series.reading import TableSchema, read_store
from seqlstm.data.series.tables import first_appearance
from seqlstm.errors import ConfigError
from tests.helpers.timeseries_data import two_series


def windows_of(path, **kwargs) -> TimeSeriesDataModule:
    dm = TimeSeriesDataModule(path, targets=["y"], time_column="t", lookback=4, horizon=2,
                              **kwargs)
    dm.setup("fit")
    return dm


def test_store_groups_interleaved_rows_by_series_in_file_order():
    store = read_store(two_series(5), TableSchema.from_config(["y"], [], [], "t", "id"))
    assert store.names == ["a", "b"] and store.offsets.tolist() == [0, 5, 10]
    assert store.values[:, 0].tolist() == [0, 1, 2, 3, 4, 100, 110, 120, 130, 140]
    assert store.rows.tolist() == [1, 3, 5, 7, 9, 2, 4, 6, 8, 10]  # table rows, for messages


def test_ids_keep_their_text_and_first_appearance(tmp_path):
    path = tmp_path / "ids.csv"
    pd.DataFrame({"id": ["007"] * 40 + ["7"] * 40, "t": list(range(40)) * 2,
                  "y": np.arange(80.0)}).to_csv(path, index=False)
    dm = windows_of(path, id_column="id")
    assert dm.spec.extra["series"] == ["007", "7"]
    codes, names = first_appearance(np.array([2, 2, 0, 1, 0]), ["x", "y", "z"])
    assert codes.tolist() == [0, 0, 1, 2, 1] and names == ["z", "x", "y"]


def test_parquet_dictionary_ids_give_the_same_windows_as_csv(tmp_path):
    table = two_series()
    table.to_csv(tmp_path / "s.csv", index=False)
    pq.write_table(pa.Table.from_pandas(table), tmp_path / "s.parquet", row_group_size=7)
    a, b = (windows_of(tmp_path / f"s.{s}", id_column="id") for s in ("csv", "parquet"))
    assert torch.equal(a.windows["train"].values, b.windows["train"].values)
    assert torch.equal(a.windows["val"].starts, b.windows["val"].starts)
    assert a.spec.extra == b.spec.extra


def test_wide_layout_reads_one_series_per_column(tmp_path):
    long = two_series()
    wide = long.pivot(index="t", columns="id", values="y").reset_index()
    wide.to_csv(tmp_path / "wide.csv", index=False)
    got = windows_of(tmp_path / "wide.csv", layout="wide")
    expected = windows_of(long[["id", "t", "y"]], id_column="id")
    assert got.spec.extra["series"] == ["a", "b"]
    assert torch.equal(got.windows["train"].values, expected.windows["train"].values)
    assert got.spec.extra["mean"] == expected.spec.extra["mean"]
    with pytest.raises(ConfigError, match=re.escape(
            "config key 'data.layout' must be long for a table with covariates, several targets "
            "or an id column")):
        TimeSeriesDataModule(tmp_path / "wide.csv", targets=["y"], id_column="id",
                             layout="wide")


def test_cache_is_memory_mapped_on_the_next_read(tmp_path):
    path = tmp_path / "s.parquet"
    two_series().to_parquet(path)
    first = windows_of(path, id_column="id", cache_dir=str(tmp_path / "cache"))
    again = windows_of(path, id_column="id", cache_dir=str(tmp_path / "cache"))
    (folder,) = (tmp_path / "cache").iterdir()
    assert sorted(p.name for p in folder.iterdir()) == ["index.json", "offsets.npy", "rows.npy",
                                                        "time.npy", "values.npy"]
    assert isinstance(again.store.values, np.memmap)
    assert torch.equal(first.windows["train"].values, again.windows["train"].values)
    batch = again.windows["train"].__getitems__([0, 30])
    assert torch.equal(batch["inputs"], first.windows["train"].__getitems__([0, 30])["inputs"])
