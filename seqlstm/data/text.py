"""Reading UTF-8 text corpora from a file, a folder or a list of either."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from seqlstm.errors import DataError

PathLike = str | Path


def resolve_paths(path: PathLike | Sequence[PathLike], pattern: str = "**/*.txt") -> list[Path]:
    """The files named by ``path``: a file, a folder (files matching ``pattern``, sorted) or a
    list of files and folders. Missing paths and empty folders are errors."""
    entries = [path] if isinstance(path, (str, Path)) else list(path)
    if not entries:
        raise DataError("data.path is an empty list; expected a file, a folder or a list of them")
    files: list[Path] = []
    for entry in map(Path, entries):
        if entry.is_dir():
            found = sorted(p for p in entry.glob(pattern) if p.is_file())
            if not found:
                raise DataError(f"data.path: folder {entry} has no file matching '{pattern}'")
            files.extend(found)
        elif entry.is_file():
            files.append(entry)
        else:
            raise DataError(f"data.path: no such file or folder: {entry}")
    return files


def read_text(file: Path) -> str:
    """The UTF-8 text of ``file``; invalid bytes are an error naming line and column."""
    raw = file.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise DataError(
            f"{file}:{line}:{column}: not UTF-8 (byte 0x{raw[err.start]:02x} at offset "
            f"{err.start}); re-encode the file as UTF-8"
        ) from None


def read_corpus(files: Sequence[Path]) -> str:
    """The texts of ``files`` joined in order. An empty file is an error."""
    texts = []
    for file in files:
        text = read_text(file)
        if not text:
            raise DataError(f"{file}: the file is empty; expected UTF-8 text")
        texts.append(text)
    return "".join(texts)
