"""A reader for the UEA/UCR ``.ts`` time-series classification format.

::

    # comments
    @problemName JapaneseVowels
    @univariate false
    @dimensions 12
    @equalLength false
    @classLabel true 1 2 3 4 5 6 7 8 9
    @data
    1.86,1.89,...:-0.20,-0.19,...:...:1      <- one series: dimensions split by ':', label last

Series may differ in length from each other (``@equalLength false``), but all dimensions of one
series must have the same length. Missing values (``?``) and time stamps are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqlstm.errors import DataError

HEADERS = ("@problemname", "@timestamps", "@missing", "@univariate", "@dimensions",
           "@equallength", "@serieslength", "@classlabel", "@targetlabel", "@data")


@dataclass
class TsData:
    """The contents of a ``.ts`` file."""

    name: str
    series: list[np.ndarray]
    """One ``(T_i, D)`` float32 array per series."""
    labels: list[str] | None
    """The class label of each series (None when ``@classLabel false``)."""
    class_labels: list[str] | None
    """The labels ``@classLabel`` declares, in order."""


def read_ts(path: str | Path) -> TsData:
    """Read a ``.ts`` file; any malformed line raises :class:`DataError` naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such .ts file")
    lines = path.read_text(encoding="utf-8").splitlines()
    if not any(line.strip() and not line.lstrip().startswith("#") for line in lines):
        raise DataError(f"{path}: the file is empty; expected a header (@problemName ... @data) "
                        "followed by one series per line")
    header: dict[str, str] = {}
    data_start = None
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith("@"):
            raise DataError(f"{path}, line {number}: expected a header line starting with '@' "
                            f"or '@data' before the series, got {_clip(line)!r}")
        tag, _, value = line.partition(" ")
        if tag.lower() not in HEADERS:
            raise DataError(f"{path}, line {number}: unknown header {tag!r}; expected one of "
                            f"{', '.join(HEADERS)}")
        if tag.lower() == "@data":
            data_start = number
            break
        header[tag.lower()] = value.strip()
    if data_start is None:
        raise DataError(f"{path}: no '@data' line after the header")
    class_labels = _class_labels(path, header)
    if header.get("@timestamps", "false").lower() == "true":
        raise DataError(f"{path}: '@timeStamps true' is not supported; give values without "
                        "time stamps")
    dims = int(header["@dimensions"]) if header.get("@dimensions", "").isdigit() else None
    series: list[np.ndarray] = []
    labels: list[str] = []
    for number, raw in enumerate(lines[data_start:], start=data_start + 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        if class_labels is not None:
            label = fields.pop().strip()
            if label not in class_labels:
                raise DataError(f"{path}, line {number}: class label {label!r} is not declared "
                                f"in @classLabel ({' '.join(class_labels)})")
            labels.append(label)
        if dims is None:
            dims = len(fields)
        if len(fields) != dims:
            raise DataError(f"{path}, line {number}: has {len(fields)} dimension(s), expected "
                            f"{dims} (from @dimensions or the first series)")
        series.append(_parse_series(path, number, fields))
    if not series:
        raise DataError(f"{path}: no series after '@data' (line {data_start})")
    return TsData(name=header.get("@problemname", path.stem), series=series,
                  labels=labels if class_labels is not None else None,
                  class_labels=class_labels)


def _class_labels(path: Path, header: dict[str, str]) -> list[str] | None:
    value = header.get("@classlabel")
    if value is None:
        return None
    flag, *labels = value.split()
    if flag.lower() == "false":
        return None
    if flag.lower() != "true" or not labels:
        raise DataError(f"{path}: '@classLabel' must be 'false' or 'true' followed by the "
                        f"labels, got {value!r}")
    return labels


def _parse_series(path: Path, number: int, fields: list[str]) -> np.ndarray:
    """``D`` comma-separated dimensions -> ``(T, D)`` float32."""
    columns = []
    for dim, text in enumerate(fields, start=1):
        values = text.split(",")
        try:
            with np.errstate(over="ignore"):
                column = np.array([float(v) for v in values], dtype=np.float32)
        except ValueError:
            bad = next(v for v in values if not _is_number(v))
            raise DataError(f"{path}, line {number}, dimension {dim}: {bad.strip()!r} is not a "
                            "number (missing values '?' are not supported)") from None
        if not np.isfinite(column).all():
            bad = values[int(np.flatnonzero(~np.isfinite(column))[0])].strip()
            raise DataError(f"{path}, line {number}, dimension {dim}: {bad!r} is not a finite "
                            "float32 number")
        if columns and len(column) != len(columns[0]):
            raise DataError(f"{path}, line {number}: dimension {dim} has {len(column)} values "
                            f"but dimension 1 has {len(columns[0])}; the dimensions of one "
                            "series must have equal lengths")
        columns.append(column)
    return np.stack(columns, axis=1)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[:width] + "..."
