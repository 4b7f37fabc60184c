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


def is_int(value: Any) -> bool:
    """An integer that is not a bool (``True`` passes ``isinstance(value, int)``)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """An int or a float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_int(key: str, value: Any, low: int, optional: bool = False) -> None:
    """Refuse ``value`` for config key ``key`` unless it is an integer >= ``low`` (or None
    when ``optional``)."""
    if optional and value is None:
        return
    if not is_int(value) or value < low:
        raise ConfigError(key, f"an integer >= {low}" + (" or null" if optional else ""), value)


def check_number(key: str, value: Any, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False, optional: bool = False) -> None:
    """Refuse ``value`` for config key ``key`` unless it is a number in the range ``[low,
    high]`` (an end is open when ``low_open``/``high_open``; None: unbounded), or None when
    ``optional``. The message states the range as ``[0, 1)``, ``> 0``..."""
    if optional and value is None:
        return
    above = low is None or (value > low if low_open else value >= low) if is_number(value) \
        else False
    below = high is None or (value < high if high_open else value <= high) if is_number(value) \
        else False
    if above and below:
        return
    if low is not None and high is not None:
        expected = (f"a number in {'(' if low_open else '['}{low:g}, "
                    f"{high:g}{')' if high_open else ']'}")
    elif low is not None:
        expected = f"a number {'>' if low_open else '>='} {low:g}"
    elif high is not None:
        expected = f"a number {'<' if high_open else '<='} {high:g}"
    else:
        expected = "a number"
    raise ConfigError(key, expected + (" or null" if optional else ""), value)


def check_holdout(val_fraction: float, test_fraction: float, *, val_path: str | None = None,
                  test_path: str | None = None, val_path_allowed: bool = False
                  ) -> tuple[float, float]:
    """The validation and test fractions held out of a training file, each 0 where its own
    file is given: each in [0, 1), validation above 0 without a file, together below 1."""
    fractions = (0.0 if val_path else val_fraction, 0.0 if test_path else test_fraction)
    if not all(0 <= f < 1 for f in fractions) or sum(fractions) >= 1 \
            or (not val_path and fractions[0] == 0):
        alternative = " (or a data.val_path)" if val_path_allowed else ""
        raise ConfigError("data.val_fraction", f"in (0, 1){alternative}, with val_fraction + "
                          "test_fraction < 1", [val_fraction, test_fraction])
    return fractions


def check_split(key: str, split: Any) -> list[float]:
    """Three fractions (train > 0, val > 0, test >= 0) summing to 1, as floats."""
    fractions = [float(f) for f in split] if all(is_number(f) for f in split) else list(split)
    if len(fractions) != 3 or not all(is_number(f) for f in fractions) or min(fractions) < 0 \
            or fractions[0] <= 0 or fractions[1] <= 0 or abs(sum(fractions) - 1) > 1e-6:
        raise ConfigError(key, "three fractions (train > 0, val > 0, test >= 0) summing to 1",
                          fractions)
    return fractions
