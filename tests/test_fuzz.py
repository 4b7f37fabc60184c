"""Property-based fuzzing (Hypothesis, the ``ci`` profile of tests/helpers/fuzzing.py; the ``long``
profile runs in ``python -m benchmarks fuzz``): every reader and the config check read each
generated input or refuse it with one line naming the file or key, never another exception,
within the per-case deadline."""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest
from hypothesis import given, settings
from omegaconf import DictConfig, OmegaConf

from seqlstm.data.sequences.files import read_sequences
from seqlstm.data.sequences.ts_format import read_ts
from seqlstm.data.series.reading import TableSchema, read_store
from seqlstm.data.text.corpus import iter_corpus
from tests.helpers import fuzzing
from tests.helpers.fuzzing import refused_by_name, written

settings.load_profile(os.environ.get("SEQLSTM_FUZZ_PROFILE", "ci"))


@given(fuzzing.text_bytes())
def test_text_corpus(data):
    path = written(data, ".txt")
    chunks: list[str] = []
    if not refused_by_name("text corpus", lambda: chunks.extend(iter_corpus([path])), path.name):
        assert "".join(chunks).encode("utf-8") in data  # read as written, BOM or not


@given(fuzzing.ts_text())
def test_ts_file(text):
    path = written(text.encode("utf-8"), ".ts")
    result = []
    if not refused_by_name(".ts", lambda: result.append(read_ts(path)), path.name):
        ts = result[0]
        assert len(ts.series) == len(ts.labels if ts.labels is not None else ts.series)
        assert all(np.isfinite(s).all() and len(s) for s in ts.series)


@given(fuzzing.npz_arrays())
def test_npz_file(arrays):
    path = written(b"", ".npz")
    np.savez(path, **arrays)
    result = []
    if not refused_by_name(".npz", lambda: result.append(read_sequences(path)), path.name):
        data = result[0]
        assert all(np.isfinite(s).all() for s in data.series)
        assert len(data.labels) == len(data.series) == len(data.ids)


@given(fuzzing.long_csv())
def test_sequence_csv(text):
    path = written(text.encode("utf-8"), ".csv")
    result = []
    if not refused_by_name("sequence .csv", lambda: result.append(read_sequences(path)),
                           path.name):
        data = result[0]
        assert all(np.isfinite(s).all() and len(s) for s in data.series)


@given(fuzzing.series_csv())
def test_series_table(text):
    path = written(text.encode("utf-8"), ".csv")
    with_id = text.startswith("t,y,id")
    schema = TableSchema.from_config(["y"], [], [], time_column="t",
                                     id_column="id" if with_id else None)
    result = []
    if not refused_by_name("series .csv", lambda: result.append(read_store(path, schema)),
                           path.name):
        assert_times_increase(result[0])


@pytest.fixture(scope="module")
def train_config():
    from hydra import compose, initialize_config_dir

    from seqlstm.configs import config_dir
    from seqlstm.validation import validate_train  # imported here: outside the deadline

    assert validate_train

    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("train", overrides=["data=char", "data.path=x.txt"])
    return {key: OmegaConf.to_container(cfg[key], resolve=False) if isinstance(
        cfg[key], DictConfig) else cfg[key] for key in cfg}


@given(key=fuzzing.st.sampled_from(fuzzing.CONFIG_KEYS), value=fuzzing.CONFIG_VALUES)
def test_config_value(train_config, key, value):
    fuzzing.check_config(copy.deepcopy(train_config), key, value)


@given(fuzzing.series_frame())
def test_series_parquet(frame):
    path = fuzzing.written(b"", ".parquet")
    frame.to_parquet(path)
    schema = TableSchema.from_config(["y"], [], [], time_column="t")
    result = []
    if not refused_by_name("series .parquet", lambda: result.append(read_store(path, schema)),
                           path.name):
        assert_times_increase(result[0])


def assert_times_increase(store) -> None:
    """Every series of a store that was read has strictly increasing times."""
    for start, stop in zip(store.offsets[:-1], store.offsets[1:], strict=True):
        times = store.time[start:stop]  # numbers or datetime64
        assert (times[1:] > times[:-1]).all()
