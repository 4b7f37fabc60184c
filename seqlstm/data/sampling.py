"""Random training windows that can be replayed exactly, and resumed part-way through an epoch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import Sampler

from seqlstm.errors import CheckpointError

BLOCK = 1 << 16


class ResumableRandomSampler(Sampler[int]):
    """``num_samples`` random indices below ``num_items`` per epoch, drawn with replacement.

    The indices of an epoch depend only on ``(seed, epoch)`` (Lightning calls :meth:`set_epoch`
    at each epoch start), so a resumed run replays the same order; :meth:`resume` makes the next
    pass over that epoch skip the indices already trained on. Drawing with replacement needs
    ``O(num_samples)`` memory whatever the corpus size (a permutation of every window of a
    500 MB corpus would not fit).
    """

    def __init__(self, num_items: int, num_samples: int, seed: int) -> None:
        self.num_items, self.num_samples, self.seed = num_items, num_samples, seed
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
        indices = torch.randint(self.num_items, (self.num_samples,), generator=generator)
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


def resume_batch(position: dict[str, int], trainer: Any) -> int:
    """The batch a resumed stateful epoch starts at: the saved ``position``'s when the fit
    resumes inside that epoch, else 0 (also for an empty ``position``: a fresh fit). Each rank's
    streams depend on the number of ranks, so it must not change."""
    if not position:
        return 0
    world_size, epoch = (trainer.world_size, trainer.current_epoch) if trainer else (1, 0)
    if position.get("world_size", 1) != world_size:
        raise CheckpointError(f"the checkpoint stopped stateful training mid-epoch on "
                              f"{position['world_size']} rank(s); resume it on as many, not "
                              f"{world_size}")
    return position["batches"] if position["epoch"] == epoch else 0
