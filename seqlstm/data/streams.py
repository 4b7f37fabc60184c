"""Where a fit stands in its data: contiguous streams for stateful (truncated-BPTT) training
and whole-split evaluation, resumable random windows, and the resume positions both record.

A split is laid out as ``num_streams`` contiguous streams side by side (the ``batchify`` layout
of pytorch/examples ``word_language_model``); batch ``k`` holds the ``k``-th ``seq_len`` steps of
every stream, so row ``b`` of batch ``k + 1`` continues row ``b`` of batch ``k`` and a model can
carry its hidden state from one batch to the next::

    steps (input -> target):  a b c d e f g h i j k l m n o p q r s t u v w x  (24 steps)
    num_streams = 4, seq_len = 2:  each stream is 24 // 4 = 6 consecutive steps

               batch 0   batch 1   batch 2
    stream 0 [ a b ]   [ c d ]   [ e f ]
    stream 1 [ g h ]   [ i j ]   [ k l ]
    stream 2 [ m n ]   [ o p ]   [ q r ]
    stream 3 [ s t ]   [ u v ]   [ w x ]
               (4, 2)    (4, 2)    (4, 2)   <- (B, T) per batch; the last may have T < seq_len

Under distributed training every rank first takes its own contiguous shard of the split
(:func:`shard_bounds`) and lays out its streams inside it, so ranks never read the same step.

The data are given as aligned arrays ``inputs[i] -> targets[i]`` (for text: ``ids[:-1]`` and
``ids[1:]``), so the same layout serves tokens and real-valued series.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, Sampler, get_worker_info

from seqlstm.errors import CheckpointError, DataError

log = logging.getLogger(__name__)
BLOCK = 1 << 16


def shard_bounds(num_steps: int, rank: int, world_size: int, equal: bool) -> tuple[int, int]:
    """The ``[start, stop)`` steps rank ``rank`` of ``world_size`` owns: contiguous, disjoint.

    ``equal`` gives every rank ``num_steps // world_size`` steps (training needs the same number
    of batches on every rank; the last ``num_steps % world_size`` steps go unread); otherwise the
    shards cover every step and differ in length by at most one (evaluation).
    """
    if equal:
        size = num_steps // world_size
        return rank * size, (rank + 1) * size
    return rank * num_steps // world_size, (rank + 1) * num_steps // world_size


def rank_of(trainer: Any) -> tuple[int, int]:
    """``(global_rank, world_size)`` of ``trainer`` (``(0, 1)`` without one)."""
    return (trainer.global_rank, trainer.world_size) if trainer else (0, 1)


class BatchSequence(IterableDataset):
    """Numbered batches, read in order from :attr:`first` (a resumed epoch; later passes start
    at 0). With DataLoader workers, worker ``w`` builds batches ``w, w + W, ...`` and the
    loader's round robin returns them in order. It is an iterable dataset, so Lightning never
    puts a (shuffling) distributed sampler in front of it; subclasses shard by rank."""

    first = 0

    def __len__(self) -> int:
        raise NotImplementedError

    def batch(self, index: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        worker = get_worker_info()
        offset, step = (worker.id, worker.num_workers) if worker else (0, 1)
        indices = range(self.first + offset, len(self), step)
        if worker is None:
            self.first = 0  # with workers, StreamLoader resets the main process's copy
        return map(self.batch, indices)


class StreamBatches(BatchSequence):
    """Batches that continue ``num_streams`` contiguous streams (see the module docstring).

    Each batch is a dict: ``inputs`` ``(B, T, ...)``, ``targets`` ``(B, T, ...)``, ``reset``
    ``(B,)`` bool (the stream starts at this batch: carry no state into it), ``offset``
    ``(B,)`` int64 (the split position of each row's first step) and every array of ``extra``
    (aligned with ``targets``) laid out the same way. Integer arrays come out as int64, real
    ones as float32.
    """

    def __init__(self, inputs: np.ndarray, targets: np.ndarray, num_streams: int, seq_len: int,
                 rank: int = 0, world_size: int = 1, equal_shards: bool = True,
                 extra: dict[str, np.ndarray] | None = None) -> None:
        arrays = {"inputs": inputs, "targets": targets, **(extra or {})}
        if len({len(a) for a in arrays.values()}) > 1:
            raise ValueError(f"arrays must align: { {k: len(a) for k, a in arrays.items()} }")
        start, stop = shard_bounds(len(inputs), rank, world_size, equal_shards)
        self.stream_len = (stop - start) // num_streams
        if self.stream_len < 1:
            raise DataError(f"{stop - start} steps on rank {rank} cannot fill {num_streams} "
                            "streams of at least one step")
        self.start, self.num_streams, self.seq_len = start, num_streams, seq_len
        used = self.stream_len * num_streams
        self.unread = len(inputs) - used * (world_size if equal_shards else 1)
        # (S * B, ...) -> (B, S, ...): row b is the b-th contiguous stream (views, no copy)
        self.arrays = {key: _streams(a[start : start + used], num_streams)
                       for key, a in arrays.items()}

    def __len__(self) -> int:
        return -(-self.stream_len // self.seq_len)

    def bounds(self, index: int) -> tuple[int, int]:
        """The ``[begin, end)`` steps of every stream that batch ``index`` holds."""
        begin = index * self.seq_len
        return begin, min(begin + self.seq_len, self.stream_len)

    def batch(self, index: int) -> dict[str, torch.Tensor]:
        """Batch ``index``: steps :meth:`bounds` of every stream."""
        begin, end = self.bounds(index)
        offsets = self.start + torch.arange(self.num_streams) * self.stream_len + begin
        return {**{key: _tensor(a[:, begin:end]) for key, a in self.arrays.items()},
                "reset": torch.full((self.num_streams,), index == 0), "offset": offsets}


class VariableStreamBatches(StreamBatches):
    """:class:`StreamBatches` whose batches vary in length, as in AWD-LSTM (Merity et al.
    2018): each batch's length is drawn around ``seq_len`` (with probability 0.95) or around
    ``seq_len / 2``, from a normal distribution with standard deviation ``spread``, at least
    ``min_len`` steps. The lengths are drawn once from ``seed``, so a resumed run reads the
    same batches; batches still continue each other, so the carried state stays valid."""

    def __init__(self, *args: Any, seed: int = 0, spread: float = 5.0, min_len: int = 5,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        rng = np.random.default_rng(seed)
        starts, position = [], 0
        while position < self.stream_len:
            starts.append(position)
            base = self.seq_len if rng.random() < 0.95 else self.seq_len / 2
            position += max(min_len, int(rng.normal(base, spread)))
        self.starts = np.asarray([*starts, self.stream_len], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.starts) - 1

    def bounds(self, index: int) -> tuple[int, int]:
        return int(self.starts[index]), int(self.starts[index + 1])


class SeriesStreams(BatchSequence):
    """The stream batches of several series, one series after the other; each batch also holds
    ``series`` ``(B,)``, the series' row in the fitted scalers. The first batch of every series
    resets every stream, so no state crosses from one series to the next."""

    def __init__(self, parts: list[tuple[int, StreamBatches]]) -> None:
        self.parts = parts
        self.ends = np.cumsum([len(streams) for _, streams in parts])

    def __len__(self) -> int:
        return int(self.ends[-1]) if len(self.ends) else 0

    def batch(self, index: int) -> dict[str, torch.Tensor]:
        part = int(np.searchsorted(self.ends, index, side="right"))
        series, streams = self.parts[part]
        batch = streams.batch(index - int(self.ends[part - 1]) if part else index)
        return {**batch, "series": torch.full((streams.num_streams,), series)}


class StreamLoader(DataLoader):
    """The loader of a :class:`BatchSequence` (one batch per item): its first pass starts at
    batch ``first`` (a resumed epoch); after it (worker processes have taken their copy of the
    dataset by then), passes start at 0."""

    def __init__(self, batches: BatchSequence, num_workers: int = 0, first: int = 0) -> None:
        super().__init__(batches, batch_size=None, num_workers=num_workers)
        batches.first = first

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        iterator = super().__iter__()
        self.dataset.first = 0
        return iterator


def _streams(array: np.ndarray, num_streams: int) -> np.ndarray:
    return array.reshape(num_streams, len(array) // num_streams, *array.shape[1:])


def _tensor(array: np.ndarray) -> torch.Tensor:
    dtype = np.int64 if np.issubdtype(array.dtype, np.integer) else np.float32
    return torch.from_numpy(np.ascontiguousarray(array, dtype=dtype))



class ResumableRandomSampler(Sampler[int]):
    """``num_samples`` random indices below ``num_items`` per epoch, drawn with replacement (or,
    with ``replacement=False``, a permutation: each item once, as ``shuffle=True`` does).

    The indices of an epoch depend only on ``(seed, epoch)`` (Lightning calls :meth:`set_epoch`
    at each epoch start), so a resumed run replays the same order; :meth:`resume` makes the next
    pass over that epoch skip the indices already trained on. Drawing with replacement needs
    ``O(num_samples)`` memory whatever the corpus size (a permutation of every window of a
    500 MB corpus would not fit).
    """

    def __init__(self, num_items: int, num_samples: int, seed: int,
                 replacement: bool = True) -> None:
        if not replacement and num_samples > num_items:
            raise ValueError(f"{num_samples} samples without replacement from {num_items} items")
        self.num_items, self.num_samples, self.seed = num_items, num_samples, seed
        self.replacement = replacement
        self.epoch = 0
        self._resume: tuple[int, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def resume(self, epoch: int, skip: int) -> None:
        """On the next pass over ``epoch``, leave out its first ``skip`` indices."""
        self._resume = (epoch, skip)

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        seed = (self.seed * 1_000_003 + self.epoch) % 2**63
        generator = torch.Generator().manual_seed(seed)
        indices = torch.randint(self.num_items, (self.num_samples,), generator=generator) \
            if self.replacement else \
            torch.randperm(self.num_items, generator=generator)[: self.num_samples]
        skip = self._resume[1] if self._resume and self._resume[0] == self.epoch else 0
        self._resume = None
        for block in indices[skip:].split(BLOCK):  # Python ints a block at a time
            yield from block.tolist()


def training_position(trainer: Any) -> dict[str, int]:
    """Where a fit stands: the epoch, the batches of it each rank already trained on, and the
    number of ranks (what a data module's ``state_dict`` records so that a mid-epoch checkpoint
    resumes with the next batch). A sampler shared by ``world_size`` ranks, each taking every
    ``world_size``-th index, skips ``batches * batch_size * world_size`` indices."""
    if trainer is None:
        return {}
    progress = trainer.fit_loop.epoch_loop.batch_progress.current
    return {"epoch": int(trainer.current_epoch), "batches": int(progress.processed),
            "world_size": int(trainer.world_size)}


class ResumePoint:
    """Where a resumed fit restarts inside its epoch, for one data module.

    The data module's ``state_dict`` returns :meth:`save`; ``load_state_dict`` hands the saved
    position to :meth:`load`; the next training loader asks :meth:`first_batch` (stateful
    streams: the batch to start at) or :meth:`sampler_skip` (random windows: the indices to
    leave out), once: a later epoch starts from its beginning.
    """

    def __init__(self) -> None:
        self.saved: dict[str, int] = {}

    def save(self, trainer: Any) -> dict[str, int]:
        return training_position(trainer)

    def load(self, state: dict[str, Any]) -> None:
        if "epoch" in state:
            self.saved = {"world_size": 1, **{key: int(state[key]) for key in
                                              ("epoch", "batches", "world_size") if key in state}}

    def first_batch(self, trainer: Any) -> int:
        """The batch a resumed stateful epoch starts at: the saved one when the fit resumes
        inside that epoch, else 0. Each rank's streams depend on the number of ranks, so it must
        not change."""
        saved, self.saved = self.saved, {}
        if not saved:
            return 0
        world_size, epoch = (trainer.world_size, trainer.current_epoch) if trainer else (1, 0)
        if saved["world_size"] != world_size:
            raise CheckpointError(f"the checkpoint stopped stateful training mid-epoch on "
                                  f"{saved['world_size']} rank(s); resume it on as many, not "
                                  f"{world_size}")
        return saved["batches"] if saved["epoch"] == epoch else 0

    def resume_sampler(self, sampler: ResumableRandomSampler, batch_size: int) -> None:
        """Make ``sampler`` skip the windows the saved epoch already trained on (all ranks)."""
        saved, self.saved = self.saved, {}
        if saved:
            sampler.resume(saved["epoch"], saved["batches"] * batch_size * saved["world_size"])


@dataclass(frozen=True)
class StreamPart:
    """Aligned one-step-ahead arrays of one stream source (a text split, one series' split)."""

    inputs: np.ndarray
    targets: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    series: int | None = None
    """The series' row in the fitted scalers (batches then carry ``series``); None for text."""
    name: str = ""
    """How errors name the source (e.g. ``of series 'a'``)."""


def stream_loader(parts: list[StreamPart], num_streams: int, seq_len: int, trainer: Any, *,
                  split: str, equal_shards: bool, advice: str, first: int = 0,
                  num_workers: int = 0) -> StreamLoader:
    """The loader of ``parts`` laid out as ``num_streams`` streams of ``seq_len`` steps per
    batch inside this rank's contiguous shard of each part, one part after the other, its first
    pass starting at batch ``first``. ``advice`` ends the error for a part too short to fill
    the streams."""
    rank, world_size = rank_of(trainer)
    batches = []
    for part in parts:
        try:
            batches.append((part.series, StreamBatches(
                part.inputs, part.targets, num_streams, seq_len, rank=rank,
                world_size=world_size, equal_shards=equal_shards, extra=part.extra)))
        except DataError as err:
            raise DataError(f"{split} split{part.name}: {err}; {advice}") from None
    if not batches:
        raise DataError(f"data.split gives the {split} split no rows; set its fraction > 0")
    for part, (_, streams) in zip(parts, batches, strict=True):
        if streams.unread:
            log.info("%s split%s: stateful batches leave the last %d of %d steps unread (%d "
                     "ranks x %d streams of %d steps)", split, part.name, streams.unread,
                     len(part.inputs), world_size, num_streams, streams.stream_len)
    dataset = batches[0][1] if batches[0][0] is None else SeriesStreams(batches)
    return StreamLoader(dataset, num_workers, first)
