"""Labelled texts from CSV/TSV/JSONL/Parquet tables or a folder per label (the aclImdb layout).

Every record keeps where it came from (``file:line:column``, or ``file: row N`` for Parquet, or
its own file for a folder), so a bad value is reported where a text editor finds it.
"""

from __future__ import annotations

import csv
import itertools
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from seqlstm.errors import ConfigError, DataError

TABLE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl",
                 ".parquet": "parquet", ".pq": "parquet", ".txt": "lines"}


@dataclass
class TextRecords:
    """Texts (and labels, None when unlabelled) read from one source."""

    path: Path
    texts: list[str]
    labels: list[str] | None
    where: list[str] = field(default_factory=list)
    """``file:line:column`` of each record's text (for messages)."""

    @property
    def ids(self) -> list[str]:
        return [str(i) for i in range(len(self.texts))]

    def subset(self, index: Sequence[int]) -> TextRecords:
        return TextRecords(self.path, [self.texts[i] for i in index],
                           None if self.labels is None else [self.labels[i] for i in index],
                           [self.where[i] for i in index])


def columns_of(value: str | int | Sequence[str | int]) -> list[str]:
    """``data.text_column`` as a list of names (several columns are joined with a space)."""
    if isinstance(value, (str, int)):
        return [str(value)]
    return [str(v) for v in value]


def read_records(path: str | Path, text_column: str | Sequence[str] = "text",
                 label_column: str | None = "label", header: bool = True,
                 require_labels: bool = True, labels: Sequence[str] | None = None) -> TextRecords:
    """Read ``path``: a table (by suffix), a ``.txt`` file of one unlabelled text per line, or
    a folder with one sub-folder of ``.txt`` files per label. ``labels`` restricts a folder to
    those sub-folders (e.g. aclImdb's ``neg``, ``pos`` without ``unsup``). An empty text, a
    missing column or label is a one-line error."""
    path = Path(path)
    if path.is_dir():
        records = _read_folder(path, labels, require_labels)
    elif not path.is_file():
        raise DataError(f"{path}: no such file or folder")
    else:
        fmt = TABLE_FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise DataError(f"{path}: cannot tell the format from the suffix {path.suffix!r}; "
                            f"expected one of {sorted(TABLE_FORMATS)} or a folder per label")
        texts = columns_of(text_column)
        reader = {"csv": _read_delimited, "tsv": _read_delimited, "jsonl": _read_jsonl,
                  "parquet": _read_parquet, "lines": _read_lines}[fmt]
        records = reader(path, texts, label_column if label_column else None, header,
                         require_labels, fmt)
    if not records.texts:
        raise DataError(f"{path}: no texts")
    for text, where in zip(records.texts, records.where, strict=True):
        if not text.strip():
            raise DataError(f"{where}: empty text")
    return records


def _check_columns(path: Path, names: list[str], wanted: list[str], line: str) -> list[int]:
    missing = [c for c in wanted if c not in names]
    if missing:
        raise DataError(f"{path}{line}: no column {missing[0]!r} (columns: {names[:20]}); set "
                        "data.text_column / data.label_column")
    return [names.index(c) for c in wanted]


def _read_delimited(path: Path, texts: list[str], label: str | None, header: bool,
                    require_labels: bool, fmt: str) -> TextRecords:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    out = TextRecords(path, [], [] if label else None, [])
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t" if fmt == "tsv" else ",")
        first = next(reader, None)
        if first is None:
            raise DataError(f"{path}: empty file")
        names = first if header else [str(i) for i in range(len(first))]
        if label and label not in names and not require_labels:
            label, out.labels = None, None
        index = _check_columns(path, names, texts + ([label] if label else []),
                               ":1" if header else "")
        rows = reader if header else itertools.chain([first], reader)
        for row in rows:
            line = reader.line_num
            if not row:
                continue
            if len(row) != len(names):
                raise DataError(f"{path}:{line}: {len(row)} fields, the header has "
                                f"{len(names)}")
            out.texts.append(" ".join(row[i] for i in index[: len(texts)]))
            out.where.append(f"{path}:{line}:{index[0] + 1}")
            if out.labels is not None:
                value = row[index[-1]].strip()
                if not value:
                    raise DataError(f"{path}:{line}:{index[-1] + 1}: empty label in column "
                                    f"{label!r}")
                out.labels.append(value)
    return out


def _read_jsonl(path: Path, texts: list[str], label: str | None, header: bool,
                require_labels: bool, fmt: str) -> TextRecords:
    out = TextRecords(path, [], [] if label else None, [])
    with path.open(encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{number}:{err.colno}: not JSON ({err.msg})") from None
            if not isinstance(record, dict):
                raise DataError(f"{path}:{number}:1: expected a JSON object per line")
            names = list(record)
            wanted = texts + ([label] if label and (require_labels or label in record) else [])
            if out.labels is not None and label not in wanted:
                if out.texts:
                    raise DataError(f"{path}:{number}: no key {label!r} (earlier lines had it)")
                out.labels = None
            _check_columns(path, names, wanted, f":{number}")
            out.texts.append(" ".join(str(record[c]) for c in texts))
            out.where.append(f"{path}:{number}:{raw.find(json.dumps(texts[0])) + 1}")
            if out.labels is not None:
                out.labels.append(str(record[label]).strip())
    return out


def _read_lines(path: Path, texts: list[str], label: str | None, header: bool,
                require_labels: bool, fmt: str) -> TextRecords:
    """A ``.txt`` file: one unlabelled text per non-blank line (for prediction)."""
    if require_labels:
        raise DataError(f"{path}: a .txt file holds texts without labels (one per line); "
                        "train from a table or a folder per label")
    out = TextRecords(path, [], None, [])
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                out.texts.append(line.rstrip("\n\r"))
                out.where.append(f"{path}:{number}:1")
    return out


def _read_parquet(path: Path, texts: list[str], label: str | None, header: bool,
                  require_labels: bool, fmt: str) -> TextRecords:
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow (pip install "
                        "'seqlstm[timeseries]')") from None
    names = [str(c) for c in frame.columns]
    frame.columns = names
    if label and label not in names and not require_labels:
        label = None
    _check_columns(path, names, texts + ([label] if label else []), "")
    joined = frame[texts].astype(str).agg(" ".join, axis=1).tolist()
    labels = frame[label].astype(str).str.strip().tolist() if label else None
    return TextRecords(path, joined, labels,
                       [f"{path}: row {i + 1}, column {texts[0]!r}" for i in range(len(frame))])


def _read_folder(path: Path, labels: Sequence[str] | None, require_labels: bool) -> TextRecords:
    folders = sorted(p.name for p in path.iterdir() if p.is_dir())
    if labels:
        missing = [str(lab) for lab in labels if str(lab) not in folders]
        if missing:
            raise DataError(f"{path}: no sub-folder {missing[0]!r} for data.labels (found "
                            f"{folders})")
        folders = [str(lab) for lab in labels]
    out = TextRecords(path, [], [], [])
    if not folders:
        if require_labels:
            raise ConfigError("data.path", "a table or a folder with one sub-folder of .txt "
                              "files per label", str(path))
        files = sorted(path.glob("*.txt"))
        out.labels = None
        for file in files:
            out.texts.append(file.read_text(encoding="utf-8"))
            out.where.append(f"{file}:1:1")
        return out
    for label in folders:
        for file in sorted((path / label).glob("*.txt")):
            out.texts.append(file.read_text(encoding="utf-8"))
            out.labels.append(label)
            out.where.append(f"{file}:1:1")
    return out
