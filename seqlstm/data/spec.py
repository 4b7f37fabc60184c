"""The one contract between data and models: a small, plain description of a batch.

A data module exposes ``spec``; a task builds its input layer and head from it. Every batch is
a dict with ``inputs`` and ``targets`` (and ``lengths`` when ``variable_length``):

=============  =================================  =========================================
input_kind     inputs                             meaning
=============  =================================  =========================================
``tokens``     ``(B, T)`` int64 ids < vocab_size  characters or other discrete symbols
``real``       ``(B, T, input_size)`` float32     measured features per step
=============  =================================  =========================================

=============  =============================  ===============================================
target_kind    targets                        task
=============  =============================  ===============================================
``next_token`` ``(B, T)`` int64 (-100 = skip)  language model: the token after each step
``real``       ``(B, horizon, output_size)``   regression/forecast of the next ``horizon`` steps
``class``      ``(B,)`` int64                  one class per sequence
``step_class`` ``(B, T)`` int64 (-100 = pad)   one label per step (tagging)
=============  =============================  ===============================================
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from seqlstm.errors import ConfigError

INPUT_KINDS = ("tokens", "real")
TARGET_KINDS = ("next_token", "real", "class", "step_class")


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
    """Class names by id, for ``class`` and ``step_class`` targets."""
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
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataSpec:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError("spec", f"only the keys {sorted(known)}", unknown)
        return cls(**data)
