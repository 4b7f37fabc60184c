"""The errors seqlstm raises for bad input: each carries one line that names the culprit."""

from __future__ import annotations

from typing import Any


class SeqlstmError(Exception):
    """Base class: bad input that stops a run before (or instead of) a traceback."""


class ConfigError(SeqlstmError, ValueError):
    """A config value is out of range or inconsistent.

    ``key`` is the dotted config key; :meth:`within` prefixes it as the error travels up the
    config tree (``hidden_size`` -> ``encoder.hidden_size`` -> ``model.encoder.hidden_size``).
    """

    def __init__(self, key: str, expected: str, got: Any) -> None:
        self.key, self.expected, self.got = key, expected, got
        super().__init__(f"config key '{key}' must be {expected}, got {got!r}")

    def within(self, prefix: str) -> ConfigError:
        return ConfigError(f"{prefix}.{self.key}", self.expected, self.got)


class DataError(SeqlstmError, ValueError):
    """Input data is missing or malformed; the message names the file, line, row or column."""


class CheckpointError(SeqlstmError, ValueError):
    """A checkpoint cannot be used: unreadable, unsafe, or made for another task."""


class NumericalError(SeqlstmError, ArithmeticError):
    """A loss or gradient became NaN or infinite; the message names the step and the batch."""
