"""Character-level text: a LightningDataModule over one or more UTF-8 files."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from seqlstm.data.download import download
from seqlstm.data.streams import (
    ResumableRandomSampler,
    ResumePoint,
    StreamLoader,
    StreamPart,
    stream_loader,
)
from seqlstm.data.text.corpus import PathLike, iter_corpus, resolve_paths
from seqlstm.data.text.windows import CoveringWindows, TokenWindows
from seqlstm.errors import ConfigError, DataError, check_int, check_split
from seqlstm.files import atomic_file, write_atomic
from seqlstm.spec import SPLITS, DataSpec, Vocabulary

log = logging.getLogger(__name__)


class CharDataModule(L.LightningDataModule):
    """Next-character prediction over text files.

    The corpus is split by position (train first, then validation, then test: no overlap),
    the vocabulary is built on the training split alone, and each split is encoded once into a
    compact array (uint8 for up to 256 symbols), cached as ``.npy`` under ``cache_dir`` and
    memory-mapped. Training draws random windows; evaluation covers the whole split.

    The files are streamed (a few MB at a time) through every pass: counting, the training
    vocabulary and encoding, so with ``cache_dir`` set a corpus larger than RAM trains with the
    ids on disk. The training window order is resumable mid-epoch (see :meth:`state_dict`).

    With ``stateful=True`` (truncated BPTT, see ``docs/stateful.md``) training instead reads
    ``batch_size`` contiguous streams whose consecutive batches continue each other, and
    validation and test read each split (each rank's shard of it) as one stream, so a model
    that carries its hidden state scores every character with the whole text before it.

    Args:
        path: a file, a folder (files matching ``pattern``) or a list of them.
        seq_len: steps per window (truncated-BPTT length).
        batch_size: windows per batch, per device.
        split: fractions of the corpus for train, val and test.
        vocab: tokens by id (from a checkpoint); built from the training split when None.
        url, sha256: where to fetch ``path`` when it is missing (a single file).
        windows_per_epoch: training windows per epoch (default: train length / seq_len).
        cache_dir: where encoded splits are cached (None: keep them in memory).
        stateful: contiguous streams instead of independent windows (see above).
    """

    def __init__(
        self,
        path: PathLike | Sequence[PathLike],
        seq_len: int = 128,
        batch_size: int = 64,
        split: Sequence[float] = (0.9, 0.05, 0.05),
        pattern: str = "**/*.txt",
        vocab: list[str] | None = None,
        url: str | None = None,
        sha256: str | None = None,
        windows_per_epoch: int | None = None,
        cache_dir: str | None = None,
        num_workers: int = 0,
        stateful: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        check_int("data.seq_len", seq_len, 1)
        check_int("data.batch_size", batch_size, 1)
        if windows_per_epoch is not None:
            check_int("data.windows_per_epoch", windows_per_epoch, 1)
            if stateful:
                raise ConfigError("data.windows_per_epoch", "null with data.stateful=true (an "
                                  "epoch is one pass over the streams)", windows_per_epoch)
        split = check_split("data.split", split)
        self.path, self.pattern, self.seq_len, self.batch_size = path, pattern, seq_len, batch_size
        self.split, self.url, self.sha256 = split, url, sha256
        self.windows_per_epoch, self.cache_dir, self.num_workers = (
            windows_per_epoch, cache_dir, num_workers)
        self.vocab = Vocabulary(vocab) if vocab is not None else None
        self.ids: dict[str, np.ndarray] = {}
        self.sampler_seed = torch.initial_seed()  # set by seed_everything
        self.resume_point = ResumePoint()
        self.stateful = stateful

    def prepare_data(self) -> None:
        if self.url and isinstance(self.path, (str, Path)) and not Path(self.path).exists():
            download(self.url, self.path, self.sha256)

    def setup(self, stage: str | None = None) -> None:
        if self.ids:
            return
        files = resolve_paths(self.path, self.pattern)
        meta = self._corpus_meta(files)
        bounds = np.cumsum([0] + [round(f * meta["chars"]) for f in self.split])
        bounds[-1] = meta["chars"]
        for i, name in enumerate(SPLITS):
            length = int(bounds[i + 1] - bounds[i])
            if (name != "test" or self.split[2] > 0) and length < self.seq_len + 1:
                raise DataError(
                    f"{files[0] if len(files) == 1 else 'the corpus'}: the {name} split has "
                    f"{length} characters, fewer than one window (data.seq_len + 1 = "
                    f"{self.seq_len + 1}); use more text or a smaller data.seq_len")
        if self.vocab is None:
            self.vocab = Vocabulary(meta["vocab"])
        self.ids = self._encode(files, [int(b) for b in bounds])

    def _corpus_meta(self, files: list[Path]) -> dict[str, Any]:
        """The corpus length in characters and (unless given) the vocabulary of its training
        split, from streamed passes; cached as JSON under ``cache_dir``."""
        cache = self._cache_file(files, "corpus", self.split, suffix=".json")
        if cache is not None and cache.exists():
            meta = json.loads(cache.read_text(encoding="utf-8"))
            if meta["vocab"] or self.vocab is not None:
                return meta
        chars = sum(len(piece) for piece in iter_corpus(files))
        meta = {"chars": chars, "vocab": None}
        if self.vocab is None:
            train_end = round(self.split[0] * chars)
            train = (piece for split, piece in
                     split_pieces(iter_corpus(files), [0, train_end, chars]) if split == 0)
            meta["vocab"] = Vocabulary.from_pieces(train).tokens
        if cache is not None:
            write_atomic(cache, json.dumps(meta).encode())
        return meta

    def _encode(self, files: list[Path], bounds: list[int]) -> dict[str, np.ndarray]:
        """Each split's ids: encoded piece by piece straight into an array (or a ``.npy`` file
        under ``cache_dir``, memory-mapped), never holding the text and the ids at once."""
        lengths = {name: bounds[i + 1] - bounds[i] for i, name in enumerate(SPLITS)}
        cache = self._cache_file(files, "ids", self.split, self.vocab.tokens, suffix="")
        names = [name for name in SPLITS if lengths[name]]
        if cache is not None and all(_npy(cache, n).exists() for n in names):
            return {name: np.load(_npy(cache, name), mmap_mode="r") for name in names}
        sinks = {name: _ArrayWriter(lengths[name], self.vocab.dtype) if cache is None
                 else _NpyWriter(_npy(cache, name), lengths[name], self.vocab.dtype)
                 for name in names}
        unknown = dict.fromkeys(names, 0)
        try:
            for split, piece in split_pieces(iter_corpus(files), bounds):
                ids, missing = self.vocab.encode_counting(piece)
                sinks[SPLITS[split]].write(ids)
                unknown[SPLITS[split]] += missing
            encoded = {name: sink.commit() for name, sink in sinks.items()}
        finally:
            for sink in sinks.values():
                sink.discard()
        for name, count in unknown.items():
            if count:
                log.warning("%s split: %d characters unseen in the vocabulary are scored as the "
                            "unknown token", name, count)
        return encoded

    def _cache_file(self, files: list[Path], kind: str, *key: Any, suffix: str) -> Path | None:
        if self.cache_dir is None:
            return None
        stats = [(str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
        digest = hashlib.sha256(repr((stats, *key)).encode()).hexdigest()[:16]
        return Path(self.cache_dir) / f"{kind}-{digest}{suffix}"

    @property
    def spec(self) -> DataSpec:
        if self.vocab is None:
            raise RuntimeError("call setup() before reading spec")
        size = len(self.vocab)
        return DataSpec(input_kind="tokens", target_kind="next_token", input_size=size,
                        output_size=size, vocab=self.vocab.tokens)

    def train_dataloader(self) -> DataLoader:
        if self.stateful:
            return self._stream_loader("train", self.batch_size, equal_shards=True,
                                       first=self.resume_point.first_batch(self.trainer))
        windows = TokenWindows(self.ids["train"], self.seq_len)
        count = self.windows_per_epoch or len(self.ids["train"]) // self.seq_len
        sampler = ResumableRandomSampler(len(windows), count, self.sampler_seed)
        self.resume_point.resume_sampler(sampler, self.batch_size)
        return DataLoader(windows, batch_size=self.batch_size, sampler=sampler, drop_last=True,
                          num_workers=self.num_workers, generator=self._generator())

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader("val")

    def test_dataloader(self) -> DataLoader:
        if "test" not in self.ids:
            raise DataError("data.split gives the test split no text; set a test fraction > 0")
        return self._eval_loader("test")

    def _eval_loader(self, name: str) -> DataLoader:
        if self.stateful:
            return self._stream_loader(name, 1, equal_shards=False)
        return DataLoader(CoveringWindows(self.ids[name], self.seq_len),
                          batch_size=self.batch_size, num_workers=self.num_workers,
                          generator=self._generator())

    def _stream_loader(self, name: str, num_streams: int, equal_shards: bool,
                       first: int = 0) -> StreamLoader:
        """Split ``name`` as ``num_streams`` streams inside this rank's contiguous shard, the
        first pass starting at batch ``first``."""
        ids = self.ids[name]
        return stream_loader([StreamPart(ids[:-1], ids[1:])], num_streams, self.seq_len,
                             self.trainer, split=name, equal_shards=equal_shards, first=first,
                             advice="use more text or a smaller data.batch_size",
                             num_workers=self.num_workers)

    def _generator(self) -> torch.Generator:
        """A loader's own generator (worker seeds), so that iterating a loader leaves torch's
        global random state, and with it dropout masks, untouched."""
        return torch.Generator().manual_seed(self.sampler_seed % 2**63)

    def state_dict(self) -> dict[str, Any]:
        """The sampler seed and the training position, so a resumed fit continues the same
        window order from the next batch."""
        return {"sampler_seed": self.sampler_seed, **self.resume_point.save(self.trainer)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.sampler_seed = int(state_dict["sampler_seed"])
        self.resume_point.load(state_dict)


def split_pieces(pieces: Iterable[str], bounds: Sequence[int]) -> Iterator[tuple[int, str]]:
    """Cut a stream of text pieces at the character offsets ``bounds`` (``[0, ..., total]``):
    yields ``(split index, piece)`` with every piece inside one split, in order."""
    position, split = 0, 0
    for piece in pieces:
        start = 0
        while start < len(piece):
            while position + start >= bounds[split + 1]:
                split += 1
            end = min(len(piece), bounds[split + 1] - position)
            yield split, piece[start:end]
            start = end
        position += len(piece)


def _npy(stem: Path, split: str) -> Path:
    return stem.with_name(f"{stem.name}-{split}.npy")


class _ArrayWriter:
    """Fills an in-memory array piece by piece."""

    def __init__(self, length: int, dtype: np.dtype) -> None:
        self.array, self.filled = np.empty(length, dtype), 0

    def write(self, ids: np.ndarray) -> None:
        self.array[self.filled: self.filled + len(ids)] = ids
        self.filled += len(ids)

    def commit(self) -> np.ndarray:
        return self.array

    def discard(self) -> None:
        """Nothing to clean up."""


class _NpyWriter:
    """Writes a 1-D ``.npy`` file piece by piece through :func:`~seqlstm.files.atomic_file`,
    which only :meth:`commit` lets rename into place (an interrupted encoding leaves no half
    file)."""

    def __init__(self, path: Path, length: int, dtype: np.dtype) -> None:
        self.path = path
        self.file: contextlib.AbstractContextManager[IO[bytes]] | None = atomic_file(path)
        self.stream = self.file.__enter__()
        np.lib.format.write_array_header_1_0(self.stream, {
            "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
            "shape": (length,)})

    def write(self, ids: np.ndarray) -> None:
        ids.tofile(self.stream)

    def commit(self) -> np.ndarray:
        """Close, rename into place and return the file memory-mapped."""
        self.file.__exit__(None, None, None)
        self.file = None
        return np.load(self.path, mmap_mode="r")

    def discard(self) -> None:
        """Remove the temporary file unless :meth:`commit` ran."""
        if self.file is not None:
            self.file.__exit__(RuntimeError, RuntimeError("discarded"), None)
            self.file = None
