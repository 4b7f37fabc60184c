"""The one contract between data and models, as plain data.

A data module exposes ``spec``, a :class:`DataSpec`; a task builds its input layer and head
from it. Every batch is a dict with ``inputs`` and ``targets`` (and ``lengths`` when
``variable_length``):

=============  =================================  =========================================
input_kind     inputs                             meaning
=============  =================================  =========================================
``tokens``     ``(B, T)`` int64 ids < vocab_size  characters or other discrete symbols
``real``       ``(B, T, input_size)`` float32     measured features per step
=============  =================================  =========================================

==================  ===================================  ===================================
target_kind         targets                              task
==================  ===================================  ===================================
``next_token``      ``(B, T)`` int64 (-100 = skip)       language model: the token after
                                                         each step
``real``            ``(B, horizon, output_size)``        forecast of the next ``horizon``
                                                         steps
``class``           ``(B,)`` int64                       one class per sequence
``step_class``      ``(B, T)`` int64 (-100 = pad)        one label per step (tagging)
``label_sequence``  ``(B, S)`` int64 (-100 = pad), and   a label sequence shorter than the
                    ``target_lengths`` ``(B,)``          input, without alignment
                                                         (transcription with CTC); ids index
                                                         ``labels`` (the output units)
==================  ===================================  ===================================

Besides the spec, this module holds the codecs for what a spec carries: the character
:class:`Vocabulary` of ``spec.vocab``, the per-series :class:`SeriesScaler` of ``spec.extra``
and the forecasting window layout (:class:`Layout`, :func:`window_inputs`).

**Prediction contract** (``seqlstm-predict``), between a task and its data module:

- the data module takes ``fitted`` (None at training: fit on the train split; at evaluation and
  prediction the CLI passes the checkpoint's ``spec.extra``) and ``predict_path`` (a file of new
  data), and provides ``predict_dataloader()``;
- the task's ``predict_step`` returns a ``dict[str, Tensor]`` per batch, in original units;
- the data module's ``format_predictions(outputs: list[dict]) -> pandas.DataFrame`` turns the
  collected outputs into a table (and may offer ``plot_predictions(frame, path)``).

Nothing here imports Lightning or pandas.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import torch

from seqlstm import runtime
from seqlstm.errors import ConfigError, DataError
from seqlstm.target_transforms import IDENTITY, TargetTransform

INPUT_KINDS = ("tokens", "real")
TARGET_KINDS = ("next_token", "real", "class", "step_class", "label_sequence")
SPLITS = ("train", "val", "test")
#: the target id that losses and metrics skip (padding, already-scored steps)
IGNORE_INDEX = -100


@dataclass(frozen=True)
class DataSpec:
    """What a data module yields; stored in checkpoints as a plain dict."""

    input_kind: str
    target_kind: str
    input_size: int
    """Vocabulary size for ``tokens`` inputs, feature count for ``real`` inputs."""
    output_size: int
    """Vocabulary size, target count or number of classes."""
    horizon: int = 1
    variable_length: bool = False
    vocab: list[str] | None = None
    """Token strings by id, for ``tokens`` inputs (id 0 is the unknown token)."""
    labels: list[str] | None = None
    """Class names by id, for ``class`` and ``step_class`` targets; the output units (e.g.
    characters) by id for ``label_sequence`` targets."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Plain data a task needs at prediction time (scalers, feature names...)."""

    def __post_init__(self) -> None:
        if self.input_kind not in INPUT_KINDS:
            raise ConfigError("spec.input_kind", f"one of {list(INPUT_KINDS)}", self.input_kind)
        if self.target_kind not in TARGET_KINDS:
            raise ConfigError("spec.target_kind", f"one of {list(TARGET_KINDS)}", self.target_kind)
        for key in ("input_size", "output_size", "horizon"):
            if getattr(self, key) < 1:
                raise ConfigError(f"spec.{key}", "an integer >= 1", getattr(self, key))

    def as_dict(self) -> dict[str, Any]:
        with runtime.gc_paused():  # a deep copy of ``extra``: a list per series, no cycles
            return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataSpec:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError("spec", f"only the keys {sorted(known)}", unknown)
        return cls(**data)

    @property
    def label_names(self) -> list[str]:
        """Class names by id: ``labels``, or ``0``, ``1``... when the data named none."""
        return list(self.labels) if self.labels else [str(i) for i in range(self.output_size)]


# -- the vocabulary of ``spec.vocab`` ---------------------------------------------------------
UNK = "\ufffd"  # id 0: characters the training split never showed
MAX_CODEPOINT = 0x10FFFF


def codepoints(text: str) -> np.ndarray:
    """Unicode code points of ``text`` as a uint32 array (one per character)."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


class Vocabulary:
    """Maps characters to ids (vectorised: a numpy lookup table, no per-character loop); id 0
    is reserved for :data:`UNK`."""

    def __init__(self, tokens: list[str]) -> None:
        if not tokens or tokens[0] != UNK:
            raise DataError(f"a vocabulary's first token must be the unknown token {UNK!r}")
        if any(len(t) != 1 for t in tokens):
            raise DataError("a character vocabulary holds single characters only")
        self.tokens = list(tokens)
        points = codepoints("".join(self.tokens[1:]))
        self._lookup = np.full(MAX_CODEPOINT + 1, -1, dtype=np.int32)
        self._lookup[points] = np.arange(1, len(self.tokens), dtype=np.int32)
        self._lookup[ord(UNK)] = 0
        self._strings = np.array(self.tokens)
        # ASCII text is encoded with bytes.translate (C speed): ASCII ids are all < 129
        ascii_ids = self._lookup[:128]
        self._ascii_table = bytes(np.maximum(ascii_ids, 0).tolist()) + bytes(128)

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        """The vocabulary of the distinct characters in ``text``, sorted by code point."""
        return cls.from_pieces([text])

    @classmethod
    def from_pieces(cls, pieces: Iterable[str]) -> Vocabulary:
        """The vocabulary of the concatenated ``pieces``, reading one piece at a time."""
        seen = np.zeros(MAX_CODEPOINT + 1, dtype=bool)
        for piece in pieces:
            if piece.isascii():  # a sample, then only the bytes not seen yet (C speed)
                raw = piece.encode("ascii")
                seen[list(set(raw[:65536]))] = True
                rest = raw[65536:].translate(None, bytes(np.flatnonzero(seen[:128]).tolist()))
                seen[list(set(rest))] = True
            else:
                seen[codepoints(piece)] = True
        seen[ord(UNK)] = False
        return cls([UNK] + [chr(c) for c in np.flatnonzero(seen)])

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def dtype(self) -> np.dtype:
        """The smallest unsigned dtype that holds every id."""
        return np.dtype(np.uint8 if len(self) <= 256 else np.uint16 if len(self) <= 65536
                        else np.uint32)

    def encode(self, text: str, unknown: str = "error") -> np.ndarray:
        """Ids of ``text``; characters outside the vocabulary raise (``error``) or map to 0
        (``unk``). The result has :attr:`dtype`."""
        ids = self._lookup[codepoints(text)]
        missing = ids < 0
        if missing.any():
            if unknown == "error":
                chars = sorted({text[i] for i in np.flatnonzero(missing)[:1000]})
                raise DataError(f"characters not in the vocabulary: {''.join(chars)!r}"
                                f" ({int(missing.sum())} occurrences)")
            ids[missing] = 0
        return ids.astype(self.dtype)

    def encode_counting(self, text: str) -> tuple[np.ndarray, int]:
        """Ids of ``text`` with unseen characters as id 0, and how many there were.

        ASCII text (the common case) takes a fast path through ``bytes.translate``.
        """
        if text.isascii():
            mapped = text.encode("ascii").translate(self._ascii_table)  # unknown -> 0
            ids = np.frombuffer(mapped, dtype=np.uint8)
            return ids.astype(self.dtype, copy=False), mapped.count(0)
        ids = self._lookup[codepoints(text)]
        missing = ids < 0
        unknown = int(np.count_nonzero(missing))
        if unknown:
            ids[missing] = 0
        return ids.astype(self.dtype), unknown

    def decode(self, ids: np.ndarray | list[int]) -> str:
        return "".join(self._strings[np.asarray(ids, dtype=np.int64)])


# -- the forecasting window layout and the scalers of ``spec.extra`` ---------------------------
@dataclass(frozen=True)
class Layout:
    """How many columns of each kind, in the order targets, past, future."""

    targets: int
    past: int
    future: int

    @property
    def observed(self) -> int:
        """Columns only known up to now: targets and past-observed covariates."""
        return self.targets + self.past

    @property
    def width(self) -> int:
        return self.targets + self.past + self.future


def window_inputs(window: torch.Tensor, lookback: int, observed: int) -> torch.Tensor:
    """The model inputs ``(B, lookback, C)`` of a window ``(B, >= lookback + 1, C)``: the
    observed columns of rows ``[0, lookback)`` and the known-future covariates of rows
    ``[1, lookback]`` (the input at step t carries the covariates of step t + 1)."""
    known_ahead = window[:, 1 : lookback + 1, observed:]  # (B, L, F_future)
    return torch.cat([window[:, :lookback, :observed], known_ahead], dim=-1)


def naive_offsets(lookback: int, horizon: int, season: int) -> torch.Tensor:
    """Rows (within a window) of the seasonal naive forecast of each horizon step: the value one
    season earlier, or whole seasons earlier until it falls in the observed part."""
    steps = torch.arange(horizon)
    return lookback + steps - season * ((steps + season) // season)  # ceil((h + 1) / season)


class SeriesScaler:
    """Per-series standardisation of every data column (targets, past, then future
    covariates), as fitted on the training rows and carried in ``spec.extra`` (``series``,
    ``columns``, ``mean``, ``std``: one list per series, one value per column; and
    ``target_transform`` when the first ``targets`` columns are transformed before they are
    standardised, see :mod:`seqlstm.target_transforms`).

    The one place that scales and unscales: the data module when it builds batches, the
    forecaster when it reports metrics and predictions in original units, and the
    ``Predictor`` when it forecasts from raw history.
    """

    def __init__(self, mean: Any, std: Any, series: list[str] | None = None,
                 transform: TargetTransform = IDENTITY, targets: int = 0) -> None:
        self.mean = np.asarray(mean, dtype=np.float64)  # (S, C)
        self.std = np.asarray(std, dtype=np.float64)
        self.transform, self.targets = transform, targets
        self._tensors: dict[tuple[Any, Any], tuple[torch.Tensor, torch.Tensor]] = {}
        self._positions: dict[str, int] | None = None
        self.series = [str(name) for name in series] if series is not None \
            else [str(i) for i in range(len(self.mean))]

    @classmethod
    def from_moments(cls, means: np.ndarray, stds: np.ndarray, series: list[str],
                     transform: TargetTransform = IDENTITY, targets: int = 0
                     ) -> SeriesScaler:
        """The scaler of per-series means and standard deviations ``(S, C)`` (of the
        transformed targets); a constant column (standard deviation 0) gets a standard
        deviation of 1."""
        return cls(means, np.where(stds > 0, stds, 1.0), series, transform, targets)

    @classmethod
    def from_extra(cls, extra: dict[str, Any], width: int) -> SeriesScaler:
        """The scaler of ``spec.extra``; the identity over ``width`` columns when it has none."""
        return cls(extra.get("mean", [[0.0] * width]), extra.get("std", [[1.0] * width]),
                   extra.get("series"), TargetTransform(extra.get("target_transform", "none")),
                   len(extra.get("targets", [])))

    def as_extra(self) -> dict[str, Any]:
        """The plain data that :meth:`from_extra` reads back (with the ``targets`` names the
        data module adds)."""
        transform = {} if self.transform.identity else {"target_transform": self.transform.name}
        with runtime.gc_paused():  # a list per series: no cycles to collect
            return {"series": list(self.series), "mean": self.mean.tolist(),
                    "std": self.std.tolist(), **transform}

    def index(self, name: str | int | None) -> int:
        """The row of series ``name`` (None: the only series); an unknown name is an error."""
        if name is None:
            if len(self.series) > 1:
                raise DataError(f"the model was trained on {len(self.series)} series; name one "
                                f"with series= (known: {self.series[:10]})")
            return 0
        return int(self.rows([str(name)])[0])

    def rows(self, names: list[str]) -> np.ndarray:
        """``(len(names),)`` the rows of series ``names``, looked up at once; the first unknown
        name is an error."""
        if self._positions is None:
            self._positions = {name: i for i, name in enumerate(self.series)}
        rows = np.fromiter((self._positions.get(n, -1) for n in names), np.int64, len(names))
        if (rows < 0).any():
            name = names[int(np.flatnonzero(rows < 0)[0])]
            raise DataError(f"series '{name}' was not in the training data (known: "
                            f"{self.series[:10]}); it has no fitted scaler")
        return rows

    def scale(self, values: np.ndarray | torch.Tensor, row: int | torch.Tensor,
              columns: slice = slice(None)) -> Any:
        """Standardise ``values`` ``(..., C)`` (the data columns ``columns``) of series ``row``
        (a number: one series; a ``(B,)`` tensor: one per row of ``(B, T, C)`` values)."""
        mean, std = self.stats(row, columns, values)
        return (self.transformed(values, columns) - mean) / std

    def unscale(self, values: torch.Tensor, row: torch.Tensor, columns: slice = slice(None),
                shift: bool = True) -> torch.Tensor:
        """Undo :meth:`scale` (a scale alone when ``shift`` is false, e.g. for deviations of
        the transformed values)."""
        mean, std = self.stats(row, columns, values)
        if not shift:
            return values * std
        return self.transformed(values * std + mean, columns, inverse=True)

    def transformed(self, values: Any, columns: slice = slice(None), inverse: bool = False
                    ) -> Any:
        """``values`` ``(..., C)`` of the data columns ``columns`` with the target transform
        (or its inverse) applied to the target columns among them."""
        stop = self.targets if columns.stop is None else min(self.targets, columns.stop)
        count = stop - (columns.start or 0)  # the leading columns of ``values`` that are targets
        return self.transform.leading(values, count, inverse)

    def stats(self, row: int | torch.Tensor, columns: slice, like: Any) -> tuple[Any, Any]:
        """The means and standard deviations of the data columns ``columns`` of series
        ``row`` (as :meth:`scale` takes it), as arrays or tensors like ``like``."""
        if isinstance(like, np.ndarray):
            return self.mean[row, columns], self.std[row, columns]
        # float32 copies (float64 for float64 values), made once per device
        dtype = torch.float64 if like.dtype == torch.float64 else torch.float32
        if (like.device, dtype) not in self._tensors:
            self._tensors[like.device, dtype] = tuple(
                torch.as_tensor(a, dtype=dtype, device=like.device) for a in (self.mean, self.std))
        mean, std = (a[row][..., columns] for a in self._tensors[like.device, dtype])
        if isinstance(row, torch.Tensor):  # (B, C) -> (B, 1, C): one scaler per batch row
            mean, std = mean.unsqueeze(1), std.unsqueeze(1)
        return mean, std
