"""Contiguous streams for stateful (truncated-BPTT) training and whole-split evaluation.

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

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from seqlstm.errors import DataError


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


class StreamBatches(IterableDataset):
    """Batches that continue ``num_streams`` contiguous streams (see the module docstring).

    Each batch is a dict: ``inputs`` ``(B, T, ...)``, ``targets`` ``(B, T, ...)``, ``reset``
    ``(B,)`` bool (the stream starts at this batch: carry no state into it) and ``offset``
    ``(B,)`` int64 (the split position of each row's first step). Integer arrays come out as
    int64, real ones as float32.

    It is an iterable dataset, so Lightning never puts a (shuffling) distributed sampler in
    front of it; the sharding by rank happens here. With DataLoader workers, worker ``w`` builds
    batches ``w, w + W, ...`` and the loader's round robin returns them in order.
    """

    def __init__(self, inputs: np.ndarray, targets: np.ndarray, num_streams: int, seq_len: int,
                 rank: int = 0, world_size: int = 1, equal_shards: bool = True) -> None:
        if len(inputs) != len(targets):
            raise ValueError(f"inputs ({len(inputs)}) and targets ({len(targets)}) must align")
        start, stop = shard_bounds(len(inputs), rank, world_size, equal_shards)
        self.stream_len = (stop - start) // num_streams
        if self.stream_len < 1:
            raise DataError(f"{stop - start} steps on rank {rank} cannot fill {num_streams} "
                            "streams of at least one step")
        self.start, self.num_streams, self.seq_len = start, num_streams, seq_len
        used = self.stream_len * num_streams
        self.unread = len(inputs) - used * (world_size if equal_shards else 1)
        # (S * B, ...) -> (B, S, ...): row b is the b-th contiguous stream (views, no copy)
        self.inputs = _streams(inputs[start : start + used], num_streams)
        self.targets = _streams(targets[start : start + used], num_streams)

    def __len__(self) -> int:
        return -(-self.stream_len // self.seq_len)

    def batch(self, index: int) -> dict[str, torch.Tensor]:
        """Batch ``index``: steps ``[index * seq_len, (index + 1) * seq_len)`` of every stream."""
        begin = index * self.seq_len
        end = min(begin + self.seq_len, self.stream_len)
        offsets = self.start + torch.arange(self.num_streams) * self.stream_len + begin
        return {"inputs": _tensor(self.inputs[:, begin:end]),
                "targets": _tensor(self.targets[:, begin:end]),
                "reset": torch.full((self.num_streams,), index == 0),
                "offset": offsets}

    def __iter__(self):
        worker = get_worker_info()
        first, step = (worker.id, worker.num_workers) if worker else (0, 1)
        for index in range(first, len(self), step):
            yield self.batch(index)


def _streams(array: np.ndarray, num_streams: int) -> np.ndarray:
    return array.reshape(num_streams, len(array) // num_streams, *array.shape[1:])


def _tensor(array: np.ndarray) -> torch.Tensor:
    dtype = np.int64 if np.issubdtype(array.dtype, np.integer) else np.float32
    return torch.from_numpy(np.ascontiguousarray(array, dtype=dtype))
