"""Reading labelled sequences from NumPy ``.npz``, long-format CSV and UEA/UCR ``.ts`` files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqlstm.data.sequences.ts_format import read_ts
from seqlstm.errors import ConfigError, DataError

FORMATS = {".npz": "npz", ".csv": "csv", ".ts": "ts"}
TARGETS = ("class", "step_class")


@dataclass
class LabelledSequences:
    """Sequences read from one file, labels still as strings."""

    path: Path
    ids: list[str]
    series: list[np.ndarray]
    """One ``(T_i, F)`` float32 array per sequence."""
    labels: list[str] | list[np.ndarray] | None
    """``class``: one string per sequence; ``step_class``: one string array ``(T_i,)`` per
    sequence; None for an unlabelled file."""
    declared_labels: list[str] | None = None
    """Labels the file declares (``.ts`` ``@classLabel``), in their order."""
    features: list[str] | None = None

    def label_set(self) -> set[str]:
        if self.labels is None:
            return set()
        if self.labels and isinstance(self.labels[0], np.ndarray):
            return set(np.concatenate(self.labels).tolist())
        return set(self.labels)


@dataclass(frozen=True)
class CsvColumns:
    """Column names of a long-format CSV: one row per (sequence, step)."""

    id: str = "sequence"
    step: str = "step"
    label: str = "label"
    features: tuple[str, ...] | None = None
    """Feature columns; None: every other column."""


def file_format(path: Path, fmt: str = "auto") -> str:
    if fmt != "auto":
        if fmt not in FORMATS.values():
            raise ConfigError("data.format", f"auto or one of {sorted(FORMATS.values())}", fmt)
        return fmt
    if path.suffix.lower() not in FORMATS:
        raise DataError(f"{path}: cannot tell the format from the suffix {path.suffix!r}; "
                        f"expected one of {sorted(FORMATS)} or set data.format")
    return FORMATS[path.suffix.lower()]


def read_sequences(path: str | Path, target: str = "class", fmt: str = "auto",
                   columns: CsvColumns = CsvColumns(), require_labels: bool = True,
                   ) -> LabelledSequences:
    """Read one file of sequences; labels are required unless ``require_labels`` is False."""
    path = Path(path)
    if target not in TARGETS:
        raise ConfigError("data.target", f"one of {list(TARGETS)}", target)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    kind = file_format(path, fmt)
    if kind == "ts":
        if target != "class":
            raise ConfigError("data.target", "'class' for a .ts file (it holds one label per "
                              "series)", target)
        ts = read_ts(path)
        data = LabelledSequences(path, [str(i) for i in range(len(ts.series))], ts.series,
                                 ts.labels, ts.class_labels)
    elif kind == "npz":
        data = _read_npz(path, target)
    else:
        data = _read_csv(path, target, columns)
    if require_labels and data.labels is None:
        raise DataError(f"{path}: no labels; a training or test file needs them")
    return data


def _read_npz(path: Path, target: str) -> LabelledSequences:
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    if "inputs" not in arrays:
        raise DataError(f"{path}: no 'inputs' array (found {sorted(arrays)}); expected inputs "
                        "(N, T, F) or (N, T), optional lengths (N,), labels and ids")
    inputs = arrays["inputs"]
    if inputs.ndim == 2:
        inputs = inputs[:, :, None]
    if inputs.ndim != 3 or not np.issubdtype(inputs.dtype, np.number):
        raise DataError(f"{path}: 'inputs' must be a numeric (N, T, F) or (N, T) array, got "
                        f"shape {arrays['inputs'].shape} of {arrays['inputs'].dtype}")
    count, steps = inputs.shape[:2]
    if not count or not steps:
        raise DataError(f"{path}: 'inputs' holds no steps (shape {arrays['inputs'].shape}); "
                        "expected (N, T, F) with N, T >= 1")
    lengths = arrays.get("lengths", np.full(count, steps))
    if lengths.shape != (count,) or not np.issubdtype(lengths.dtype, np.integer) or \
            lengths.min() < 1 or lengths.max() > steps:
        kind = "" if np.issubdtype(lengths.dtype, np.integer) else f" of {lengths.dtype}"
        shown = f" with range [{lengths.min()}, {lengths.max()}]" if lengths.size and \
            np.issubdtype(lengths.dtype, np.number) else ""
        raise DataError(f"{path}: 'lengths' must hold {count} integers in [1, {steps}], got "
                        f"shape {lengths.shape}{kind}{shown}")
    series = [inputs[i, : lengths[i]].astype(np.float32) for i in range(count)]
    _check_finite(path, series, [str(i) for i in range(count)])
    if "ids" in arrays and arrays["ids"].shape != (count,):
        raise DataError(f"{path}: 'ids' must have shape ({count},), one per sequence, got "
                        f"{arrays['ids'].shape}")
    ids = [str(v) for v in arrays["ids"]] if "ids" in arrays else [str(i) for i in range(count)]
    labels = None
    if "labels" in arrays:
        raw = arrays["labels"]
        expected = (count,) if target == "class" else (count, steps)
        if raw.shape != expected:
            raise DataError(f"{path}: 'labels' must have shape {expected} for target "
                            f"'{target}', got {raw.shape}")
        labels = ([str(v) for v in raw] if target == "class"
                  else [raw[i, : lengths[i]].astype(str) for i in range(count)])
    return LabelledSequences(path, ids, series, labels)


def _read_csv(path: Path, target: str, columns: CsvColumns) -> LabelledSequences:
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype={columns.id: str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"{path}: not a readable CSV table ({detail})") from None
    if frame.empty:
        raise DataError(f"{path}: no rows")
    for role, name in (("id", columns.id), ("step", columns.step)):
        if name not in frame.columns:
            raise DataError(f"{path}: no {role} column {name!r} (columns: {list(frame.columns)}); "
                            f"set data.columns.{role}")
    has_labels = columns.label in frame.columns
    features = list(columns.features or [c for c in frame.columns
                                         if c not in (columns.id, columns.step, columns.label)])
    missing = [c for c in features if c not in frame.columns]
    if missing or not features:
        raise DataError(f"{path}: feature columns {missing or '(none)'} not found "
                        f"(columns: {list(frame.columns)})")
    if frame[columns.id].isna().any():
        row = int(np.flatnonzero(frame[columns.id].isna().to_numpy())[0])
        raise DataError(f"{path}, line {row + 2}, column {columns.id!r}: an empty cell; every "
                        "row needs its sequence id")
    for name in [columns.step, *features]:
        values = pd.to_numeric(frame[name], errors="coerce")
        bad = values.isna() | (np.isinf(values) if name == columns.step else False)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raw = frame[name].iloc[row]
            what = "an empty cell" if pd.isna(raw) else repr(str(raw))
            raise DataError(f"{path}, line {row + 2}, column {name!r}: {what} is not a number "
                            "(missing values are not supported)")
    ids, series, labels = [], [], []
    for seq_id, rows in frame.groupby(columns.id, sort=False):
        steps = rows[columns.step].to_numpy()
        if len(steps) > 1 and not (np.diff(steps) > 0).all():
            pos = 1 + int(np.flatnonzero(np.diff(steps) <= 0)[0])
            step, before = steps[pos].item(), steps[pos - 1].item()
            raise DataError(f"{path}, line {int(rows.index[pos]) + 2}: sequence {seq_id!r} has "
                            f"step {step!r} after step {before!r}; steps must increase within "
                            "a sequence")
        ids.append(str(seq_id))
        series.append(rows[features].to_numpy(dtype=np.float32))
        if has_labels:
            row_labels = rows[columns.label].astype(str).to_numpy()
            if target == "class":
                if (row_labels != row_labels[0]).any():
                    row = int(rows.index[int(np.flatnonzero(row_labels != row_labels[0])[0])])
                    raise DataError(f"{path}, line {row + 2}: sequence {seq_id!r} changes label "
                                    f"from {row_labels[0]!r} to {frame[columns.label][row]!r}; "
                                    "target 'class' needs one label per sequence")
                labels.append(row_labels[0])
            else:
                labels.append(row_labels)
    _check_finite(path, series, ids)
    return LabelledSequences(path, ids, series, labels if has_labels else None,
                             features=features)


def _check_finite(path: Path, series: list[np.ndarray], ids: list[str]) -> None:
    for seq_id, values in zip(ids, series, strict=True):
        if not np.isfinite(values).all():
            step, feature = np.argwhere(~np.isfinite(values))[0]
            raise DataError(f"{path}: sequence {seq_id}, step {step}, feature {feature}: "
                            f"{values[step, feature]} is not a finite number")
