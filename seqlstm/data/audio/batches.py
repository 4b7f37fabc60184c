"""Batches of audio: clips held in memory as one array plus offsets, padded per batch.

A split holds either precomputed, normalised feature frames (``data.features_on=loader``: made
once, optionally cached) or raw waveforms whose features are made per batch: in the loader
(training with waveform augmentation), or, deferred, wherever the batch lands
(``features_on=device``: the loader collates padded waveforms, their lengths and SpecAugment's
drawn masks on the CPU, and :func:`finish_on_device` makes the frames on the batch's device).
Either way the same numbers come out. Targets are class ids ``(N,)`` or label sequences
(``targets`` ``(B, S)`` padded with ``IGNORE_INDEX``, and ``target_lengths``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from seqlstm.data.audio.augment import AugmentConfig, apply_masks, augment_waveforms, draw_masks
from seqlstm.data.audio.features import NormalisedFeatures
from seqlstm.spec import IGNORE_INDEX


class Ragged:
    """Variable-length arrays ``(T_i, ...)`` as one array and ``offsets`` ``(N + 1,)``."""

    def __init__(self, values: np.ndarray, offsets: np.ndarray) -> None:
        self.values, self.offsets = values, offsets

    @classmethod
    def from_list(cls, items: Sequence[np.ndarray]) -> Ragged:
        offsets = np.zeros(len(items) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(x) for x in items])
        return cls(np.concatenate(items) if items else np.zeros(0, np.float32), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __getitem__(self, index: int) -> np.ndarray:
        return self.values[self.offsets[index] : self.offsets[index + 1]]

    def padded(self, indices: Sequence[int], fill: float = 0.0) -> tuple[torch.Tensor,
                                                                         torch.Tensor]:
        """Items ``indices`` padded to the longest: ``(B, T_max, ...)`` and lengths ``(B,)``."""
        lengths = self.lengths[list(indices)]
        shape = (len(indices), int(lengths.max(initial=1)), *self.values.shape[1:])
        out = np.full(shape, fill, dtype=self.values.dtype)
        for row, index in enumerate(indices):
            out[row, : lengths[row]] = self[index]
        return torch.from_numpy(out), torch.from_numpy(lengths)


class AudioBatches(Dataset):
    """One split: ``features`` (normalised frames) or ``waves`` plus what makes them frames.

    Args:
        data: ragged feature frames ``(T_i, F)`` or waveforms ``(N_i,)``.
        targets: class ids ``(N,)``, label-id arrays (one per clip) or None (prediction).
        features: set for waveforms: makes the normalised features of each batch.
        augment: the training augmentation (None: none).
        noise: background noise waveforms for the noise augmentation.
        seed: seeds the augmentation's generator.
        defer: waveforms only: yield ``waves`` ``(B, N)``, ``samples`` ``(B,)`` and the drawn
            SpecAugment masks instead of frames (see :func:`finish_on_device`).
    """

    def __init__(self, data: Ragged, targets: np.ndarray | list[np.ndarray] | None,
                 features: NormalisedFeatures | None = None,
                 augment: AugmentConfig | None = None, noise: list[torch.Tensor] | None = None,
                 seed: int = 0, defer: bool = False) -> None:
        self.data, self.targets, self.features = data, targets, features
        self.augment, self.noise, self.defer = augment, noise or [], defer
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.data)

    @property
    def lengths(self) -> torch.Tensor:
        """Frames per clip ``(N,)`` (for length bucketing)."""
        lengths = torch.from_numpy(self.data.lengths)
        if self.features is None:
            return lengths
        return 1 + lengths // self.features.config.hop_length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.__getitems__([index])

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        inputs, lengths = self.data.padded(indices)
        batch: dict[str, torch.Tensor] = {}
        if self.features is not None:  # waveforms (B, N)
            sample_rate = self.features.config.sample_rate
            if self.augment is not None and self.augment.waveform:
                inputs = augment_waveforms(inputs, lengths, self.augment, self.noise,
                                           sample_rate, self.generator)
            frames = 1 + lengths // self.features.config.hop_length
        else:
            frames = lengths
        if self.augment is not None and (self.augment.time_masks or self.augment.freq_masks):
            width = self.features.config.size if self.features is not None else inputs.size(2)
            batch["time_masks"], batch["freq_masks"] = draw_masks(frames, width, self.augment,
                                                                  self.generator)
        if self.defer:
            batch.update(waves=inputs, samples=lengths)
        else:
            if self.features is not None:  # frames (B, T, F)
                inputs, lengths = self.features(inputs, lengths)
            if "time_masks" in batch:
                inputs = apply_masks(inputs, batch.pop("time_masks"), batch.pop("freq_masks"))
            batch.update(inputs=inputs, lengths=lengths)
        if self.targets is not None:
            batch.update(gather_targets(self.targets, indices))
        return batch


def finish_on_device(batch: dict[str, torch.Tensor], features: NormalisedFeatures
                     ) -> dict[str, torch.Tensor]:
    """A deferred batch (``waves``, ``samples``, masks) with its ``inputs`` ``(B, T, F)`` and
    ``lengths`` ``(B,)`` made on the device the waveforms are on; other batches unchanged."""
    if "waves" not in batch:
        return batch
    batch = dict(batch)
    inputs, lengths = features(batch.pop("waves"), batch.pop("samples"))
    if "time_masks" in batch:
        inputs = apply_masks(inputs, batch.pop("time_masks"), batch.pop("freq_masks"))
    return {**batch, "inputs": inputs, "lengths": lengths}


def gather_targets(targets: np.ndarray | list[np.ndarray], indices: list[int]
                   ) -> dict[str, torch.Tensor]:
    """``targets`` (and ``target_lengths`` for label sequences) of the clips ``indices``."""
    if isinstance(targets, np.ndarray):
        return {"targets": torch.from_numpy(targets[indices])}
    rows = [targets[i] for i in indices]
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    padded = torch.full((len(rows), max(int(lengths.max()), 1)), IGNORE_INDEX,
                        dtype=torch.long)
    for b, row in enumerate(rows):
        padded[b, : len(row)] = torch.from_numpy(row)
    return {"targets": padded, "target_lengths": lengths}
