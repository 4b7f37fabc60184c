"""Scratch files of an out-of-core read (see :mod:`~seqlstm.data.series.streaming`): arrays
over files through shared memory maps whose pages go back to the kernel on request, and rows
gathered in bucket order run by run."""

from __future__ import annotations

import itertools
import mmap
import os
from pathlib import Path
from typing import Any

import numpy as np


class SharedMap:
    """An array over a file through a shared memory map whose pages can be handed back."""

    def __init__(self, path: Path, dtype: Any, shape: tuple[int, ...], offset: int = 0,
                 write: bool = True) -> None:
        self.write = write
        self.file = open(path, "r+b" if write else "rb")  # noqa: SIM115 (closed by close())
        self.map = mmap.mmap(self.file.fileno(), 0,
                             access=mmap.ACCESS_WRITE if write else mmap.ACCESS_READ)
        self.array: Any = np.ndarray(shape, dtype, buffer=self.map, offset=offset)

    @classmethod
    def npy(cls, path: Path, dtype: Any, shape: tuple[int, ...]) -> SharedMap:
        """A new ``.npy`` file of ``shape`` (its header written by NumPy)."""
        header = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
        offset = header.offset
        del header
        return cls(path, dtype, shape, offset)

    def release(self) -> None:
        """Hand the mapped pages back to the kernel (their data stays in the file)."""
        if hasattr(mmap, "MADV_DONTNEED") and not self.map.closed:
            self.map.madvise(mmap.MADV_DONTNEED)

    def close(self) -> None:
        if self.map.closed:
            return
        self.array = None
        try:
            if self.write:
                self.map.flush()
                os.fsync(self.file.fileno())
            self.map.close()
        except BufferError:  # a view still alive (an error's traceback): freed with it
            pass
        self.file.close()


class Buckets:
    """Scratch files of rows in bucket order, one per column, written run by run with
    ``pwrite`` (a memory map would map a whole page-cache folio, up to megabytes, per run)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[str, tuple[Any, np.dtype, tuple[int, ...]]] = {}

    def add(self, slots: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        """Rows ``i`` of every column into slot ``slots[i]``: one write per run of slots."""
        order = np.argsort(slots, kind="stable")
        slots = slots[order]
        runs = np.concatenate([[0], np.flatnonzero(np.diff(slots) != 1) + 1, [len(slots)]])
        for name, data in columns.items():
            if name not in self.files:
                self.files[name] = (open(self.folder / f"buckets-{name}", "w+b"),  # noqa: SIM115
                                    data.dtype, data.shape[1:])
            out, dtype, shape = self.files[name]
            data = np.ascontiguousarray(data[order], dtype=dtype)
            size = data.itemsize * int(np.prod(shape, dtype=np.int64))
            for a, b in itertools.pairwise(runs):
                os.pwrite(out.fileno(), data[a:b].tobytes(), int(slots[a]) * size)

    def read(self, a: int, b: int) -> dict[str, np.ndarray]:
        """Slots ``a`` to ``b`` of every column."""
        part = {}
        for name, (out, dtype, shape) in self.files.items():
            width = int(np.prod(shape, dtype=np.int64))
            out.seek(a * width * dtype.itemsize)
            part[name] = np.fromfile(out, dtype, (b - a) * width).reshape(b - a, *shape)
        return part

    def remove(self) -> None:
        for out, _, _ in self.files.values():
            out.close()
            Path(out.name).unlink()
