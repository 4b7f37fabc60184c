"""Batches of audio: clips held in memory as one array plus offsets, padded per batch.

A split holds either precomputed, normalised feature frames (evaluation, and training without
waveform augmentation) or raw waveforms whose features are made per batch after waveform
augmentation (training with gain/noise/shift). SpecAugment, when on, masks either kind's
features per batch. Targets are class ids ``(N,)`` or label sequences (``targets`` ``(B, S)``
padded with ``IGNORE_INDEX``, and ``target_lengths``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from seqlstm.data.audio.augment import AugmentConfig, augment_waveforms, spec_augment
from seqlstm.data.audio.features import FeatureExtractor
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
        extractor: set for waveforms: makes the features of each batch.
        mean, std: ``(F,)`` normalisation applied to features made per batch.
        augment: the training augmentation (None: none).
        noise: background noise waveforms for the noise augmentation.
        seed: seeds the augmentation's generator.
    """

    def __init__(self, data: Ragged, targets: np.ndarray | list[np.ndarray] | None,
                 extractor: FeatureExtractor | None = None, mean: np.ndarray | None = None,
                 std: np.ndarray | None = None, augment: AugmentConfig | None = None,
                 noise: list[torch.Tensor] | None = None, seed: int = 0) -> None:
        self.data, self.targets, self.extractor = data, targets, extractor
        self.mean = None if mean is None else torch.as_tensor(mean, dtype=torch.float32)
        self.std = None if std is None else torch.as_tensor(std, dtype=torch.float32)
        self.augment, self.noise = augment, noise or []
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.data)

    @property
    def lengths(self) -> torch.Tensor:
        """Frames per clip ``(N,)`` (for length bucketing)."""
        lengths = torch.from_numpy(self.data.lengths)
        if self.extractor is None:
            return lengths
        return 1 + lengths // self.extractor.config.hop_length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.__getitems__([index])

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        inputs, lengths = self.data.padded(indices)
        if self.extractor is not None:  # waveforms (B, N) -> frames (B, T, F)
            sample_rate = self.extractor.config.sample_rate
            if self.augment is not None and self.augment.waveform:
                inputs = augment_waveforms(inputs, lengths, self.augment, self.noise,
                                           sample_rate, self.generator)
            with torch.no_grad():
                inputs = (self.extractor(inputs) - self.mean) / self.std
            lengths = 1 + lengths // self.extractor.config.hop_length
            inputs = inputs * (torch.arange(inputs.size(1)) < lengths[:, None])[..., None]
        if self.augment is not None and (self.augment.time_masks or self.augment.freq_masks):
            inputs = spec_augment(inputs, lengths, self.augment, self.generator)
        batch = {"inputs": inputs, "lengths": lengths}
        if self.targets is not None:
            batch.update(gather_targets(self.targets, indices))
        return batch


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
