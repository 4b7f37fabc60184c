"""Character-level text: a LightningDataModule over one or more UTF-8 files."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import numpy as np
from torch.utils.data import DataLoader, RandomSampler

from seqlstm.data.download import download
from seqlstm.data.spec import DataSpec
from seqlstm.data.streams import StreamBatches
from seqlstm.data.text import PathLike, read_corpus, resolve_paths
from seqlstm.data.vocab import Vocabulary
from seqlstm.data.windows import CoveringWindows, TokenWindows
from seqlstm.errors import ConfigError, DataError

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")


class CharDataModule(L.LightningDataModule):
    """Next-character prediction over text files.

    The corpus is split by position (train first, then validation, then test: no overlap),
    the vocabulary is built on the training split alone, and each split is encoded once into a
    compact array (uint8 for up to 256 symbols), cached as ``.npy`` under ``cache_dir`` and
    memory-mapped. Training draws random windows; evaluation covers the whole split.

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
        _check_positive("seq_len", seq_len)
        _check_positive("batch_size", batch_size)
        if windows_per_epoch is not None:
            _check_positive("windows_per_epoch", windows_per_epoch)
            if stateful:
                raise ConfigError("data.windows_per_epoch", "null with data.stateful=true (an "
                                  "epoch is one pass over the streams)", windows_per_epoch)
        split = list(split)
        if len(split) != 3 or any(f < 0 for f in split) or split[0] <= 0 or split[1] <= 0 \
                or abs(sum(split) - 1) > 1e-6:
            raise ConfigError("data.split", "three fractions (train > 0, val > 0, test >= 0) "
                              "summing to 1", split)
        self.path, self.pattern, self.seq_len, self.batch_size = path, pattern, seq_len, batch_size
        self.split, self.url, self.sha256 = split, url, sha256
        self.windows_per_epoch, self.cache_dir, self.num_workers = (
            windows_per_epoch, cache_dir, num_workers)
        self.stateful = stateful
        self.vocab = Vocabulary(vocab) if vocab is not None else None
        self.ids: dict[str, np.ndarray] = {}

    def prepare_data(self) -> None:
        if self.url and isinstance(self.path, (str, Path)) and not Path(self.path).exists():
            download(self.url, self.path, self.sha256)

    def setup(self, stage: str | None = None) -> None:
        if self.ids:
            return
        files = resolve_paths(self.path, self.pattern)
        text = read_corpus(files)
        bounds = np.cumsum([0] + [round(f * len(text)) for f in self.split])
        bounds[-1] = len(text)
        texts = {name: text[bounds[i] : bounds[i + 1]] for i, name in enumerate(SPLITS)}
        for name, part in texts.items():
            if (name != "test" or self.split[2] > 0) and len(part) < self.seq_len + 1:
                raise DataError(
                    f"{files[0] if len(files) == 1 else 'the corpus'}: the {name} split has "
                    f"{len(part)} characters, fewer than one window (data.seq_len + 1 = "
                    f"{self.seq_len + 1}); use more text or a smaller data.seq_len")
        if self.vocab is None:
            self.vocab = Vocabulary.from_text(texts["train"])
        for name, part in texts.items():
            if part:
                self.ids[name] = self._encode(name, part, files)

    def _encode(self, name: str, text: str, files: list[Path]) -> np.ndarray:
        unknown = self.vocab.count_unknown(text)
        if unknown:
            log.warning("%s split: %d characters unseen in the vocabulary are scored as the "
                        "unknown token", name, unknown)
        if self.cache_dir is None:
            return self.vocab.encode(text, unknown="unk")
        key = hashlib.sha256(
            repr(([str(f.resolve()) for f in files], [f.stat().st_mtime_ns for f in files],
                  self.split, self.vocab.tokens)).encode()).hexdigest()[:16]
        cache = Path(self.cache_dir) / f"{name}-{key}.npy"
        if not cache.exists():
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp.npy")
            np.save(tmp, self.vocab.encode(text, unknown="unk"))
            tmp.replace(cache)
        return np.load(cache, mmap_mode="r")

    @property
    def spec(self) -> DataSpec:
        if self.vocab is None:
            raise RuntimeError("call setup() before reading spec")
        size = len(self.vocab)
        return DataSpec(input_kind="tokens", target_kind="next_token", input_size=size,
                        output_size=size, vocab=self.vocab.tokens)

    def train_dataloader(self) -> DataLoader:
        if self.stateful:
            return self._stream_loader("train", self.batch_size, equal_shards=True)
        windows = TokenWindows(self.ids["train"], self.seq_len)
        count = self.windows_per_epoch or len(self.ids["train"]) // self.seq_len
        sampler = RandomSampler(windows, num_samples=count)
        return DataLoader(windows, batch_size=self.batch_size, sampler=sampler, drop_last=True,
                          num_workers=self.num_workers)

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
                          batch_size=self.batch_size, num_workers=self.num_workers)

    def _stream_loader(self, name: str, num_streams: int, equal_shards: bool) -> DataLoader:
        """Split ``name`` as ``num_streams`` streams inside this rank's contiguous shard."""
        trainer = self.trainer
        rank, world_size = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        ids = self.ids[name]
        try:
            streams = StreamBatches(ids[:-1], ids[1:], num_streams, self.seq_len, rank=rank,
                                    world_size=world_size, equal_shards=equal_shards)
        except DataError as err:
            raise DataError(f"{name} split: {err}; use more text or a smaller data.batch_size"
                            ) from None
        if streams.unread:
            log.info("%s split: stateful batches leave the last %d of %d steps unread (%d ranks "
                     "x %d streams of %d steps)", name, streams.unread, len(ids) - 1, world_size,
                     num_streams, streams.stream_len)
        return DataLoader(streams, batch_size=None, num_workers=self.num_workers)


def _check_positive(key: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"data.{key}", "an integer >= 1", value)
