"""Variable-length labelled sequences held as one padded tensor, batched by tensor indexing."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from seqlstm.spec import IGNORE_INDEX


def pad_sequences(series: Sequence[np.ndarray], width: int) -> tuple[np.ndarray, np.ndarray]:
    """``N`` arrays ``(T_i, F)`` -> padded ``(N, max T_i, F)`` float32 (zeros after the end) and
    lengths ``(N,)`` int64."""
    lengths = np.array([len(s) for s in series], dtype=np.int64)
    padded = np.zeros((len(series), int(lengths.max(initial=1)), width), dtype=np.float32)
    for i, s in enumerate(series):
        padded[i, : len(s)] = s
    return padded, lengths


def pad_step_labels(labels: Sequence[np.ndarray], steps: int) -> np.ndarray:
    """Per-step label ids ``(T_i,)`` -> ``(N, steps)`` int64 with ``IGNORE_INDEX`` after the end."""
    out = np.full((len(labels), steps), IGNORE_INDEX, dtype=np.int64)
    for i, row in enumerate(labels):
        out[i, : len(row)] = row
    return out


class PaddedSequences(Dataset):
    """Sequences ``(N, T, F)`` with ``lengths`` and optional ``targets`` (``(N,)`` class ids or
    ``(N, T)`` step labels).

    A batch is gathered in one indexing operation (``__getitems__``) and trimmed to its longest
    sequence, so a batch of short sequences does not carry the whole split's padding. Use it
    with ``collate_fn=keep_batch``.
    """

    def __init__(self, inputs: torch.Tensor, lengths: torch.Tensor,
                 targets: torch.Tensor | None = None, variable_length: bool = True) -> None:
        self.inputs, self.lengths, self.targets = inputs, lengths, targets
        self.variable_length = variable_length

    def __len__(self) -> int:
        return self.inputs.size(0)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.__getitems__([index])

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        lengths = self.lengths[index]
        steps = int(lengths.max())
        batch = {"inputs": self.inputs[index, :steps]}  # (B, T_batch, F)
        if self.targets is not None:
            targets = self.targets[index]
            batch["targets"] = targets[:, :steps] if targets.dim() == 2 else targets
        if self.variable_length:
            batch["lengths"] = lengths
        return batch


def keep_batch(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The collate function for datasets that gather whole batches themselves."""
    return batch


class LengthBuckets(torch.utils.data.Sampler[list[int]]):
    """Batches of sequences of similar length, in a seeded random order.

    Sequences are shuffled, cut into chunks of ``batch_size * bucket_batches``, each chunk is
    sorted by length and cut into batches, and the batches are shuffled: a batch carries little
    padding, and every epoch still sees new batch compositions. Every sequence appears once.
    """

    def __init__(self, lengths: torch.Tensor, batch_size: int, bucket_batches: int = 50,
                 seed: int = 0) -> None:
        self.lengths, self.batch_size = lengths, batch_size
        self.bucket_batches, self.seed, self.epoch = bucket_batches, seed, 0

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        self.epoch += 1
        order = torch.randperm(len(self.lengths), generator=generator)
        batches = []
        for chunk in order.split(self.batch_size * self.bucket_batches):
            chunk = chunk[self.lengths[chunk].argsort(descending=True, stable=True)]
            batches.extend(b.tolist() for b in chunk.split(self.batch_size))
        for i in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[i]


def bucketed_loader(dataset: PaddedSequences, batch_size: int, seed: int = 0,
                    num_workers: int = 0) -> torch.utils.data.DataLoader:
    """A training loader of :class:`LengthBuckets` batches over ``dataset``."""
    sampler = LengthBuckets(dataset.lengths, batch_size, seed=seed)
    return torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=keep_batch,
                                       num_workers=num_workers)
