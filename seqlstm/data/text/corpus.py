"""Reading UTF-8 text corpora from a file, a folder or a list of either."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from seqlstm.errors import DataError

PathLike = str | Path
#: bytes read per step when streaming a file (the decoded chunk is at most 4x this in memory)
CHUNK_BYTES = 16 * 2**20


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


def iter_text(file: Path, chunk_bytes: int = CHUNK_BYTES) -> Iterator[str]:
    """The UTF-8 text of ``file`` in pieces of about ``chunk_bytes`` bytes, never the whole file
    at once. Invalid bytes are an error naming line and column."""
    offset = 0  # file offset of pending[0]
    pending = b""
    with open(file, "rb") as stream:
        while True:
            block = stream.read(chunk_bytes)
            data = pending + block
            cut = len(data) if not block else _last_boundary(data)
            try:
                text = data[:cut].decode("utf-8")
            except UnicodeDecodeError as err:
                raise _not_utf8(file, offset + err.start) from None
            if text:
                yield text
            offset, pending = offset + cut, data[cut:]
            if not block:
                return


def _last_boundary(data: bytes) -> int:
    """The end of the last complete UTF-8 sequence in ``data`` (a chunk may split one)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # a lead byte (or ASCII): does its sequence fit?
            need = 1 if byte < 0x80 else 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 \
                else 4 if byte >> 3 == 0b11110 else 1
            return len(data) if need <= back else len(data) - back
    return len(data)


def _not_utf8(file: Path, offset: int) -> DataError:
    """The error for an invalid byte at ``offset``, with its 1-based line and column."""
    line, line_start, position = 1, 0, 0
    with open(file, "rb") as stream:
        while position < offset:
            block = stream.read(min(CHUNK_BYTES, offset - position))
            newlines = block.count(b"\n")
            if newlines:
                line += newlines
                line_start = position + block.rfind(b"\n") + 1
            position += len(block)
        bad = stream.read(1)
    return DataError(f"{file}:{line}:{offset - line_start + 1}: not UTF-8 (byte 0x{bad[0]:02x} "
                     f"at offset {offset}); re-encode the file as UTF-8")


def iter_corpus(files: Sequence[Path], chunk_bytes: int = CHUNK_BYTES) -> Iterator[str]:
    """The texts of ``files`` in order, streamed in pieces (see :func:`iter_text`). An empty
    file is an error."""
    for file in files:
        empty = True
        for piece in iter_text(file, chunk_bytes):
            empty = False
            yield piece
        if empty:
            raise DataError(f"{file}: the file is empty; expected UTF-8 text")
