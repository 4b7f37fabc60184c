"""Labelled variable-length sequences from ``.npz``, long-format CSV or UEA/UCR ``.ts`` files."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from seqlstm.data.sequences.batches import PaddedSequences, pad_sequences, pad_step_labels
from seqlstm.data.sequences.files import TARGETS, CsvColumns, LabelledSequences, read_sequences
from seqlstm.data.sequences.in_memory import InMemoryDataModule
from seqlstm.errors import ConfigError, DataError, check_holdout
from seqlstm.spec import DataSpec


class SequenceDataModule(InMemoryDataModule):
    """Sequence classification (``target: class``) or tagging (``target: step_class``).

    Batches are padded to their longest sequence and carry ``lengths`` (the encoder packs
    them). Features are standardised per feature with a mean and standard deviation fitted
    on the training split alone; those, the label names and the class counts are the fitted
    state (``spec.extra``) that a checkpoint carries.

    Args:
        path: the training file (``.npz``, ``.csv`` or ``.ts``).
        test_path: the test file; when None the test split is carved from ``path``.
        format: ``auto`` (from the suffix), ``npz``, ``csv`` or ``ts``.
        target: ``class`` (one label per sequence) or ``step_class`` (one per step).
        val_fraction: share of the training file held out for validation (stratified by class
            for ``class`` targets, seeded).
        test_fraction: share held out for testing when ``test_path`` is None.
        seed: seeds the split.
        batch_size: sequences per batch.
        min_train_batches: the fewest training batches an epoch gives; a smaller training split
            is cut into smaller batches (see :meth:`InMemoryDataModule.train_batch_size`).
        normalize: standardise features with the training statistics.
        columns: CSV column names: ``id``, ``step``, ``label``, ``features`` (a list or null).
        fitted: fitted state from a checkpoint's ``spec.extra`` (None: fit on ``path``).
        predict_path: a file of new sequences for :meth:`predict_dataloader` (labels optional).
    """

    def __init__(
        self,
        path: str | None = None,
        test_path: str | None = None,
        format: str = "auto",
        target: str = "class",
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        seed: int = 0,
        batch_size: int = 32,
        normalize: bool = True,
        columns: Mapping[str, Any] | None = None,
        fitted: Mapping[str, Any] | None = None,
        predict_path: str | None = None,
        num_workers: int = 0,
        min_train_batches: int = 4,
    ) -> None:
        super().__init__(batch_size, num_workers, min_train_batches)
        self.save_hyperparameters()
        if target not in TARGETS:
            raise ConfigError("data.target", f"one of {list(TARGETS)}", target)
        check_holdout(val_fraction, test_fraction, test_path=test_path)
        try:
            self.columns = CsvColumns(**{k: tuple(v) if k == "features" and v else v
                                         for k, v in (columns or {}).items()})
        except TypeError:
            raise ConfigError("data.columns", "a mapping with keys id, step, label, features",
                              dict(columns or {})) from None
        self.path, self.test_path, self.format, self.target = path, test_path, format, target
        self.fractions = (val_fraction, 0.0 if test_path else test_fraction)
        self.seed, self.normalize, self.predict_path = seed, normalize, predict_path
        self.fitted: dict[str, Any] | None = dict(fitted) if fitted else None

    # -- setup ------------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if stage != "predict" and "train" not in self.splits:
            self._setup_splits()
        if stage in ("predict", None) and self.predict_path and "predict" not in self.splits:
            self._setup_predict()

    def _read(self, path: str, require_labels: bool = True) -> LabelledSequences:
        return read_sequences(path, self.target, self.format, self.columns, require_labels)

    def _setup_splits(self) -> None:
        if self.path is None:
            raise ConfigError("data.path", "a file of labelled sequences", None)
        data = self._read(self.path)
        strata = data.labels if self.target == "class" else None
        train_idx, val_idx, test_idx = stratified_split(len(data.series), strata,
                                                        self.fractions, self.seed)
        if len(val_idx) == 0:
            raise DataError(f"{data.path}: data.val_fraction={self.fractions[0]} leaves no "
                            f"sequence for validation out of {len(data.series)}")
        parts = {"train": subset(data, train_idx), "val": subset(data, val_idx)}
        parts["test"] = self._read(self.test_path) if self.test_path else subset(data, test_idx)
        if self.fitted is None:
            self.fitted = fit_state(parts["train"], data.declared_labels, self.normalize)
        for name, part in parts.items():
            self.splits[name] = self._encode(part)

    def _setup_predict(self) -> None:
        if self.fitted is None:
            self._setup_splits()
        data = self._read(self.predict_path, require_labels=False)
        self.splits["predict"] = self._encode(data)
        self.predict_ids = data.ids
        self.predict_labels = data.labels

    def _encode(self, data: LabelledSequences) -> PaddedSequences:
        """Check labels and width against the fitted state, standardise, pad."""
        labels, width = self.fitted["labels"], len(self.fitted["mean"])
        unknown = sorted((data.label_set() | set(data.declared_labels or ())) - set(labels))
        if unknown:
            raise DataError(f"{data.path}: labels {unknown} are not among the training labels "
                            f"{labels}")
        if data.series[0].shape[1] != width:
            raise DataError(f"{data.path}: sequences have {data.series[0].shape[1]} features; "
                            f"the model was fitted on {width}")
        mean = np.asarray(self.fitted["mean"], dtype=np.float32)
        std = np.asarray(self.fitted["std"], dtype=np.float32)
        inputs, lengths = pad_sequences([(s - mean) / std for s in data.series], width)
        targets = None
        if data.labels is not None:
            ids = {label: i for i, label in enumerate(labels)}
            if self.target == "class":
                targets = torch.tensor([ids[v] for v in data.labels], dtype=torch.long)
            else:
                rows = [np.array([ids[v] for v in row], dtype=np.int64) for row in data.labels]
                targets = torch.from_numpy(pad_step_labels(rows, inputs.shape[1]))
        return PaddedSequences(torch.from_numpy(inputs), torch.from_numpy(lengths), targets)

    @property
    def spec(self) -> DataSpec:
        if self.fitted is None:
            raise RuntimeError("call setup() before reading spec")
        return DataSpec(input_kind="real", target_kind=self.target,
                        input_size=len(self.fitted["mean"]),
                        output_size=len(self.fitted["labels"]), variable_length=True,
                        labels=list(self.fitted["labels"]), extra=dict(self.fitted))


def stratified_split(count: int, strata: Sequence[Any] | None, fractions: Sequence[float],
                     seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded (train, val, test) index arrays; each stratum is split in the same proportions.

    ``fractions`` are the (val, test) shares; train keeps the rest.
    """
    rng = np.random.default_rng(seed)
    keys = np.asarray(strata if strata is not None else [""] * count, dtype=object)
    parts: list[list[int]] = [[], [], []]
    for key in sorted(set(keys.tolist()), key=natural_key):
        members = rng.permutation(np.flatnonzero(keys == key))
        n_val = round(fractions[0] * len(members))
        n_test = round(fractions[1] * len(members))
        parts[1].extend(members[:n_val])
        parts[2].extend(members[n_val : n_val + n_test])
        parts[0].extend(members[n_val + n_test :])
    train, val, test = (np.sort(np.asarray(p, dtype=np.int64)) for p in parts)
    return train, val, test


def subset(data: LabelledSequences, index: np.ndarray) -> LabelledSequences:
    return LabelledSequences(
        data.path, [data.ids[i] for i in index], [data.series[i] for i in index],
        None if data.labels is None else [data.labels[i] for i in index],
        data.declared_labels, data.features)


def fit_state(train: LabelledSequences, declared: list[str] | None,
              normalize: bool) -> dict[str, Any]:
    """Label names, class counts and per-feature mean/std from the training split alone."""
    present = train.label_set()
    labels = list(declared) if declared else sorted(present, key=natural_key)
    if train.labels and isinstance(train.labels[0], np.ndarray):
        flat = np.concatenate(train.labels).tolist()
    else:
        flat = list(train.labels or [])
    counts = Counter(flat)
    values = np.concatenate(train.series).astype(np.float64)  # (sum T_i, F)
    width = values.shape[1]
    mean = values.mean(0) if normalize else np.zeros(width)
    std = values.std(0) if normalize else np.ones(width)
    std[std == 0] = 1.0  # a constant feature is centred, not scaled
    return {"labels": labels, "class_counts": [counts[label] for label in labels],
            "mean": mean.tolist(), "std": std.tolist(), "features": train.features}


def natural_key(label: Any) -> tuple[int, float, str]:
    """Sort numeric labels by value ('2' before '10'), then the rest as text."""
    try:
        return (0, float(label), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(label))
