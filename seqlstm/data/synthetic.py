"""Long-memory tasks of Hochreiter & Schmidhuber (1997), generated from a seed.

Each split draws from its own generator, ``numpy.random.default_rng([seed, split])``, so the
same seed gives the same sequences in every run and the splits never share a sequence stream.

* :class:`AddingProblem` (Exp. 4): two features per step, a value in [0, 1] and a marker; one
  marked step in each half; the target is the sum of the two marked values. Always predicting
  1 scores an MSE of Var(U1 + U2) = 2/12 = 0.167.
* :class:`TemporalOrder` (Exp. 6a/6b): distractor symbols with 2 (or 3) relevant symbols X/Y at
  random steps in fixed windows; the class is their order (4 or 8 classes).
* :class:`CopyTask`: remember ``copy_length`` symbols over ``length`` blank steps, then recall
  them after a delimiter (only the recall steps are scored).
* :class:`RunningSign`: a tagging task of variable length: label each step by the sign of the
  running sum of the inputs so far.

Each spec states its dependency range as ``extra["max_delay"]`` (the sequence length), which
``model.encoder.init=chrono`` takes when ``model.encoder.max_delay`` is null.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqlstm.data.sequences.batches import PaddedSequences
from seqlstm.data.sequences.files import read_sequences
from seqlstm.data.sequences.in_memory import InMemoryDataModule
from seqlstm.errors import ConfigError, DataError, check_int, is_int
from seqlstm.spec import IGNORE_INDEX, SPLITS, DataSpec

Generated = tuple[np.ndarray, np.ndarray, np.ndarray]
"""inputs ``(N, T, F)`` float32, lengths ``(N,)`` int64, targets."""


class SyntheticDataModule(InMemoryDataModule):
    """The shared part: seeded splits of fixed sizes, loaders, a predict file of inputs.

    Args:
        length: the task's time lag ``T`` (see each task).
        train_size, val_size, test_size: sequences per split.
        seed: the seed of every split's generator.
        batch_size: sequences per batch.
        fitted: unused (nothing is fitted); accepted so every data module takes it.
        predict_path: an ``.npz`` with ``inputs`` ``(N, T, F)`` (and ``lengths``) to predict.
    """

    variable_length = False

    def __init__(self, length: int = 100, train_size: int = 10000, val_size: int = 1000,
                 test_size: int = 1000, seed: int = 0, batch_size: int = 64,
                 fitted: dict[str, Any] | None = None, predict_path: str | None = None,
                 num_workers: int = 0) -> None:
        super().__init__(batch_size, num_workers)
        for key, value in (("length", length), ("train_size", train_size),
                           ("val_size", val_size), ("test_size", test_size)):
            check_int(f"data.{key}", value, 1)
        self.length, self.seed, self.predict_path = length, seed, predict_path
        self.sizes = {"train": train_size, "val": val_size, "test": test_size}

    def generate(self, rng: np.random.Generator, count: int) -> Generated:
        raise NotImplementedError

    def split(self, name: str) -> Generated:
        """The ``name`` split, generated afresh (deterministic given ``seed``)."""
        rng = np.random.default_rng([self.seed, SPLITS.index(name)])
        return self.generate(rng, self.sizes[name])

    def setup(self, stage: str | None = None) -> None:
        for name in SPLITS:
            if name not in self.splits:
                inputs, lengths, targets = self.split(name)
                self.splits[name] = PaddedSequences(
                    torch.from_numpy(inputs), torch.from_numpy(lengths),
                    torch.from_numpy(targets), self.variable_length)
        if stage in ("predict", None) and self.predict_path and "predict" not in self.splits:
            data = read_sequences(self.predict_path, fmt="npz", require_labels=False)
            width = self.spec.input_size
            if data.series[0].shape[1] != width:
                raise DataError(f"{self.predict_path}: inputs have {data.series[0].shape[1]} "
                                f"features per step; this task has {width}")
            lengths = torch.tensor([len(s) for s in data.series])
            inputs = torch.zeros(len(data.series), int(lengths.max()), width)
            for i, s in enumerate(data.series):
                inputs[i, : len(s)] = torch.from_numpy(s)
            self.splits["predict"] = PaddedSequences(inputs, lengths, None, self.variable_length)
            self.predict_ids = data.ids


class AddingProblem(SyntheticDataModule):
    """Inputs ``(T, 2)``: value in [0, 1] and marker (1 at two steps, one per half); target
    ``(1, 1)``: the sum of the two marked values. ``length`` is ``T``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.save_hyperparameters()
        if self.length < 2:
            raise ConfigError("data.length", "an integer >= 2 (one marker in each half)",
                              self.length)

    def generate(self, rng: np.random.Generator, count: int) -> Generated:
        steps, half = self.length, self.length // 2
        values = rng.random((count, steps), dtype=np.float32)
        first = rng.integers(0, half, count)
        second = rng.integers(half, steps, count)
        rows = np.arange(count)
        markers = np.zeros((count, steps), dtype=np.float32)
        markers[rows, first] = markers[rows, second] = 1.0
        targets = (values[rows, first] + values[rows, second]).reshape(count, 1, 1)
        return (np.stack([values, markers], axis=-1), np.full(count, steps),
                targets.astype(np.float32))

    @property
    def spec(self) -> DataSpec:
        return DataSpec(input_kind="real", target_kind="real", input_size=2, output_size=1,
                        horizon=1, extra={"baseline_mse": 1 / 6, "max_delay": self.length})


class TemporalOrder(SyntheticDataModule):
    """Exp. 6a (``num_classes: 4``) and 6b (``8``): one-hot symbols ``a b c d X Y B E``.

    A sequence of ``length`` steps starts with ``B``, ends with ``E``, and holds random
    distractors ``a``-``d`` except at 2 (6a) or 3 (6b) relevant steps, each ``X`` or ``Y``,
    drawn from windows at fixed fractions of the length (6a: 10-20% and 50-60%; 6b: 10-20%,
    33-43%, 66-76%). The class is the sequence of relevant symbols, e.g. ``XY``.
    """

    SYMBOLS = ("a", "b", "c", "d", "X", "Y", "B", "E")
    WINDOWS = {4: ((0.10, 0.20), (0.50, 0.60)),
               8: ((0.10, 0.20), (0.33, 0.43), (0.66, 0.76))}

    def __init__(self, *args: Any, num_classes: int = 4, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.save_hyperparameters()
        if num_classes not in self.WINDOWS:
            raise ConfigError("data.num_classes", "4 (Exp. 6a) or 8 (Exp. 6b)", num_classes)
        if self.length < 20:
            raise ConfigError("data.length", "an integer >= 20", self.length)
        self.num_classes = num_classes

    def generate(self, rng: np.random.Generator, count: int) -> Generated:
        steps = self.length
        symbols = rng.integers(0, 4, (count, steps))  # distractors a-d
        symbols[:, 0], symbols[:, -1] = 6, 7  # B ... E
        classes = np.zeros(count, dtype=np.int64)
        rows = np.arange(count)
        for low, high in self.WINDOWS[self.num_classes]:
            where = rng.integers(round(low * steps), round(high * steps) + 1, count)
            is_y = rng.integers(0, 2, count)
            symbols[rows, where] = 4 + is_y  # X or Y
            classes = classes * 2 + is_y
        inputs = np.eye(len(self.SYMBOLS), dtype=np.float32)[symbols]  # (N, T, 8)
        return inputs, np.full(count, steps), classes

    @property
    def spec(self) -> DataSpec:
        relevant = len(self.WINDOWS[self.num_classes])
        labels = ["".join("XY"[(c >> (relevant - 1 - k)) & 1] for k in range(relevant))
                  for c in range(self.num_classes)]
        return DataSpec(input_kind="real", target_kind="class", input_size=len(self.SYMBOLS),
                        output_size=self.num_classes, labels=labels,
                        extra={"max_delay": self.length})


class CopyTask(SyntheticDataModule):
    """Copy/memory task: ``copy_length`` symbols, ``length`` blank steps (the last one is the
    delimiter), then ``copy_length`` recall steps. Inputs are one-hot over the symbols, blank
    and delimiter; only the recall steps are scored (chance accuracy ``1 / num_symbols``).
    """

    def __init__(self, *args: Any, copy_length: int = 10, num_symbols: int = 8,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.save_hyperparameters()
        check_int("data.copy_length", copy_length, 1)
        check_int("data.num_symbols", num_symbols, 2)
        self.copy_length, self.num_symbols = copy_length, num_symbols

    def generate(self, rng: np.random.Generator, count: int) -> Generated:
        k, blank, delimiter = self.copy_length, self.num_symbols, self.num_symbols + 1
        steps = self.length + 2 * k
        symbols = rng.integers(0, self.num_symbols, (count, k))
        ids = np.full((count, steps), blank)
        ids[:, :k] = symbols
        ids[:, k + self.length - 1] = delimiter
        targets = np.full((count, steps), IGNORE_INDEX, dtype=np.int64)
        targets[:, -k:] = symbols
        inputs = np.eye(self.num_symbols + 2, dtype=np.float32)[ids]  # (N, T + 2k, K + 2)
        return inputs, np.full(count, steps), targets

    @property
    def spec(self) -> DataSpec:
        labels = [chr(ord("A") + i) if i < 26 else str(i) for i in range(self.num_symbols)]
        return DataSpec(input_kind="real", target_kind="step_class",
                        input_size=self.num_symbols + 2, output_size=self.num_symbols,
                        labels=labels, extra={"max_delay": self.length + 2 * self.copy_length})


class RunningSign(SyntheticDataModule):
    """Tagging with variable lengths: inputs in [-1, 1], each step labelled ``negative`` or
    ``positive`` by the sign of the running sum so far. Lengths are uniform in
    ``[min_length, length]``; batches are padded and carry ``lengths``."""

    variable_length = True

    def __init__(self, *args: Any, min_length: int = 5, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.save_hyperparameters()
        if not is_int(min_length) or not 1 <= min_length <= self.length:
            raise ConfigError("data.min_length", f"an integer in [1, length={self.length}]",
                              min_length)
        self.min_length = min_length

    def generate(self, rng: np.random.Generator, count: int) -> Generated:
        lengths = rng.integers(self.min_length, self.length + 1, count)
        valid = np.arange(self.length) < lengths[:, None]  # (N, T)
        values = (rng.random((count, self.length), dtype=np.float32) * 2 - 1) * valid
        targets = np.where(valid, (np.cumsum(values, axis=1) > 0).astype(np.int64),
                           IGNORE_INDEX)
        return values[..., None].astype(np.float32), lengths.astype(np.int64), targets

    @property
    def spec(self) -> DataSpec:
        return DataSpec(input_kind="real", target_kind="step_class", input_size=1,
                        output_size=2, variable_length=True, labels=["negative", "positive"],
                        extra={"max_delay": self.length})


def save_inputs(path: str | Path, inputs: np.ndarray, lengths: np.ndarray | None = None) -> None:
    """Write a predict file for a synthetic task: ``inputs`` ``(N, T, F)`` and ``lengths``."""
    arrays = {"inputs": inputs} if lengths is None else {"inputs": inputs, "lengths": lengths}
    np.savez(path, **arrays)
