"""Windows over an encoded token stream, for training (random) and evaluation (covering)."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from seqlstm.spec import IGNORE_INDEX


class TokenWindows(Dataset):
    """Every window of ``seq_len`` inputs and their next-token targets, one per start offset.

    Training samples random starts from it (see :class:`~torch.utils.data.RandomSampler`).
    ``ids`` may be a memory-mapped array; only the windows asked for are read.
    """

    def __init__(self, ids: np.ndarray, seq_len: int) -> None:
        self.ids, self.seq_len = ids, seq_len

    def __len__(self) -> int:
        return len(self.ids) - self.seq_len

    def __getitem__(self, start: int) -> dict[str, torch.Tensor]:
        window = torch.from_numpy(self.ids[start : start + self.seq_len + 1].astype(np.int64))
        return {"inputs": window[:-1], "targets": window[1:]}


class CoveringWindows(Dataset):
    """Consecutive windows that score every target of the split exactly once.

    ::

        ids      a b c d e f g h i j
        window 0 [a b c d] -> targets b c d e
        window 1 [e f g h] -> targets f g h i
        window 2     [f g h i] -> targets (g h i masked) j   # aligned to the end

    The last window is aligned to the end of the split and targets already scored are set to
    ``IGNORE_INDEX``, so the mean loss over all windows is the loss over the whole split.
    """

    def __init__(self, ids: np.ndarray, seq_len: int) -> None:
        self.ids, self.seq_len = ids, seq_len
        self.num_targets = len(ids) - 1
        self.starts = list(range(0, self.num_targets - seq_len + 1, seq_len))
        if self.starts[-1] + seq_len < self.num_targets:
            self.starts.append(self.num_targets - seq_len)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        start = self.starts[index]
        window = torch.from_numpy(self.ids[start : start + self.seq_len + 1].astype(np.int64))
        targets = window[1:].clone()
        already_scored = index * self.seq_len - start  # > 0 only for the end-aligned window
        if already_scored > 0:
            targets[:already_scored] = IGNORE_INDEX
        return {"inputs": window[:-1], "targets": targets}
