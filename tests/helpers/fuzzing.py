"""Property-based fuzzing of seqlstm's readers and config checks (Hypothesis strategies and the
one property they share), used by tests/test_fuzz.py (CI profile) and benchmarks/fuzz.py (long).

The property: each generated input is read (or checked) correctly, or refused with one line, a
:class:`SeqlstmError` naming the file (readers) or the config key (configs). Any other
exception, a message of several lines or one that names neither is a failure; Hypothesis'
``deadline`` bounds the time per case.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from seqlstm.errors import ConfigError, SeqlstmError

PROFILES = {"ci": 400, "long": 5000}
for _name, _examples in PROFILES.items():
    settings.register_profile(_name, max_examples=_examples, deadline=5000, derandomize=True,
                              database=None, suppress_health_check=[
                                  HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
#: (what was fuzzed, "read" or "refused") -> cases, over this process
COUNTS: Counter[tuple[str, str]] = Counter()
_FOLDER = Path(tempfile.mkdtemp(prefix="seqlstm-fuzz-"))

GOOD_NUMBERS = st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: f"{v:.6g}")
NUMBERS = st.one_of(st.integers(-5, 5).map(str), st.floats(allow_nan=True).map(repr),
                    st.sampled_from(["nan", "inf", "-inf", "", "abc", "1e999", " 3 ", "1,5"]))
BOMS = [b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]


def refused_by_name(kind: str, call: Callable[[], Any], name: str) -> bool:
    """Run ``call`` (a reader of ``kind``); True if it raised a one-line SeqlstmError naming
    ``name``, False if it returned. Any other exception propagates (the fuzzer's failure)."""
    try:
        call()
    except SeqlstmError as err:
        message = str(err)
        assert "\n" not in message, message
        assert name in message, (name, message)
        COUNTS[kind, "refused"] += 1
        return True
    COUNTS[kind, "read"] += 1
    return False


def written(data: bytes, suffix: str) -> Path:
    """``data`` in this process's fuzzing folder, as ``input<suffix>`` (rewritten each case)."""
    path = _FOLDER / f"input{suffix}"
    path.write_bytes(data)
    return path


@st.composite
def text_bytes(draw: st.DrawFn) -> bytes:
    """Corpus bytes: text in several encodings, BOMs, NUL bytes, random bytes, huge lines."""
    text = draw(st.text(st.characters(codec="utf-8"), max_size=200))
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "latin-1", "cp1252"]))
    body = text.encode(encoding, errors="replace")
    extra = draw(st.one_of(st.just(b""), st.binary(max_size=50), st.just(b"\x00" * 5),
                           st.just(b"x" * 70_000)))
    return draw(st.sampled_from(BOMS)) + body + extra


@st.composite
def ts_text(draw: st.DrawFn) -> str:
    """UEA/UCR .ts files: a header with mutations, then series lines of numbers and labels."""
    dims = draw(st.integers(1, 3))
    labels = draw(st.lists(st.sampled_from(["a", "b", "1", "x y"]), min_size=1, max_size=3,
                           unique=True))
    header = ["@problemName fuzz", "@timeStamps false", "@missing false",
              f"@univariate {'true' if dims == 1 else 'false'}", f"@dimensions {dims}",
              "@equalLength false", f"@classLabel true {' '.join(labels)}", "@data"]
    valid = draw(st.booleans())  # half the files are well formed
    header = header if valid or draw(st.booleans()) else \
        draw(st.lists(st.sampled_from(header), max_size=10))
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        numbers = GOOD_NUMBERS if valid else NUMBERS
        dimensions = [",".join(draw(st.lists(numbers, min_size=1 if valid else 0, max_size=5)))
                      for _ in range(dims if valid else draw(st.integers(1, dims + 1)))]
        label = draw(st.sampled_from(labels if valid else [*labels, "zzz", ""]))
        rows.append(":".join([*dimensions, label]))
    return "\n".join(header + rows) + draw(st.sampled_from(["", "\n", "\n\n"]))


@st.composite
def npz_arrays(draw: st.DrawFn) -> dict[str, np.ndarray]:
    """.npz contents: inputs of several shapes and dtypes (NaN, inf), lengths, labels, ids."""
    count, steps = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    shape = draw(st.sampled_from([(count, steps), (count, steps, 2), (count,), (count, steps, 1,
                                                                                  1)]))
    dtype = draw(st.sampled_from(["float32", "float32", "float64", "int64", "bool", "U3"]))
    finite = draw(st.booleans())
    values = draw(st.lists(st.floats(allow_nan=not finite, allow_infinity=not finite, width=32),
                           min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    arrays: dict[str, np.ndarray] = {}
    if draw(st.integers(0, 9)):  # now and then no inputs at all
        base = np.array(values, dtype="float64").reshape(shape)
        with np.errstate(invalid="ignore"):
            arrays["inputs"] = base.astype(dtype if dtype != "U3" else "U8")
    sizes = st.just(count) if draw(st.booleans()) else st.integers(0, 5)  # often consistent
    if draw(st.booleans()):
        size = draw(sizes)
        arrays["lengths"] = np.array(draw(st.lists(st.integers(-1, 6), min_size=size,
                                                   max_size=size)), "int64")
    if draw(st.integers(0, 3)):
        size = draw(sizes)
        arrays["labels"] = np.array(draw(st.lists(st.integers(0, 2), min_size=size,
                                                  max_size=size)), "int64")
    if draw(st.booleans()):
        size = draw(sizes)
        arrays["ids"] = np.array(draw(st.lists(st.text(max_size=3), min_size=size,
                                               max_size=size)), "U3")
    return arrays


@st.composite
def long_csv(draw: st.DrawFn) -> str:
    """Long-format sequence CSVs: sequence, step, label and a feature, with bad cells."""
    header = draw(st.sampled_from(["sequence,step,label,x", "sequence,step,x", "a,b",
                                   "sequence,step,label,x,x"]))
    valid = draw(st.booleans())  # half the tables are well formed
    header = "sequence,step,label,x" if valid else header
    rows = []
    for index in range(draw(st.integers(0 if not valid else 1, 8))):
        sequence = f"s{index % 2}" if valid else draw(st.sampled_from(["s1", "s2", ""]))
        step = str(index) if valid else draw(NUMBERS)
        label = f"c{index % 2}" if valid else draw(st.sampled_from(["a", "b", ""]))
        value = draw(GOOD_NUMBERS if valid else NUMBERS)
        rows.append(f"{sequence},{step},{label},{value}")
    return "\n".join([header, *rows]) + "\n"


@st.composite
def series_csv(draw: st.DrawFn) -> str:
    """Series tables ``t,y[,id]``: unsorted and duplicate times, NaN/inf, text, empty series."""
    with_id = draw(st.booleans())
    rows = []
    for _ in range(draw(st.integers(0, 12))):
        cells = [draw(st.one_of(st.integers(-3, 20).map(str), NUMBERS)), draw(NUMBERS)]
        if with_id:
            cells.append(draw(st.sampled_from(["a", "b", ""])))
        rows.append(",".join(cells))
    header = "t,y,id" if with_id else draw(st.sampled_from(["t,y", "t,z", "y,t", "t"]))
    return "\n".join([header, *rows]) + "\n"


@st.composite
def series_frame(draw: st.DrawFn) -> Any:
    """Parquet-ready series tables: time and value columns of several types (ints, floats with
    NaN/inf, strings, booleans, datetimes), unsorted or repeated times, no rows."""
    import pandas as pd

    size = draw(st.integers(0, 10))
    times = draw(st.lists(st.integers(-5, 30), min_size=size, max_size=size))
    values = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=size,
                           max_size=size))
    time_kind = draw(st.sampled_from(["int64", "float64", "str", "datetime64[ns]"]))
    value_kind = draw(st.sampled_from(["float64", "str", "bool", "float32"]))
    t = pd.Series(times, dtype="int64")
    t = pd.to_datetime(t, unit="D") if time_kind.startswith("datetime") else t.astype(time_kind)
    return pd.DataFrame({"t": t, "y": pd.Series(values, dtype="float64").astype(value_kind)})


#: config keys and checks: (dotted key, strategy of values) for validate_train overrides
CONFIG_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 10**6),
                          st.floats(allow_nan=True), st.text(max_size=8),
                          st.lists(st.integers(-1, 3), max_size=3))
CONFIG_KEYS = ["seed", "trainer.max_epochs", "trainer.devices", "trainer.precision",
               "trainer.accelerator", "trainer.gradient_clip_val", "trainer.deterministic",
               "model.encoder.hidden_size", "model.encoder.num_layers", "model.encoder.dropout",
               "model.encoder.cell", "model.encoder.bidirectional", "model.embedding_dim",
               "model.embedding_dropout", "model.optimizer.lr", "data.seq_len",
               "data.batch_size", "data.num_workers", "sample.length", "sample.temperature"]


def check_config(cfg: Any, key: str, value: Any) -> bool:
    """Set ``key`` to ``value`` in the plain config ``cfg`` and validate it; True if refused
    (by a ConfigError naming a key under the same top-level group)."""
    from seqlstm.validation import validate_train

    node = cfg
    *parents, last = key.split(".")
    for part in parents:
        node = node[part]
    node[last] = value
    try:
        validate_train(cfg)
    except ConfigError as err:
        assert "\n" not in str(err)
        assert err.key.split(".")[0] in (key.split(".")[0], "seed"), (key, str(err))
        COUNTS[f"config {key.split('.')[0]}", "refused"] += 1
        return True
    COUNTS[f"config {key.split('.')[0]}", "read"] += 1
    return False
