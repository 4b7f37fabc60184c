"""A custom data module: character text whose training inputs carry random typos.

Targets stay clean, so the model learns to predict the true next character from noisy
context (a denoising language model). Validation and test data are left untouched:

    PYTHONPATH=examples seqlstm-train data._target_=typo_data.TypoCharDataModule \
        +data.typo_rate=0.05
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, default_collate

from seqlstm.data import CharDataModule
from seqlstm.errors import ConfigError


class TypoCharDataModule(CharDataModule):
    """:class:`CharDataModule` replacing each training input character, with probability
    ``typo_rate``, by a random one from the vocabulary.

    Args:
        typo_rate: the chance that an input character is replaced.
        seed: seeds the typos, so a run is reproducible.
        **kwargs: see :class:`CharDataModule`.
    """

    def __init__(self, *args: Any, typo_rate: float = 0.05, seed: int = 0,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not 0 <= typo_rate < 1:
            raise ConfigError("data.typo_rate", "a number in [0, 1)", typo_rate)
        self.typo_rate = typo_rate
        self.generator = torch.Generator().manual_seed(seed)

    def train_dataloader(self) -> DataLoader:
        loader = super().train_dataloader()
        return DataLoader(loader.dataset, batch_size=self.batch_size, sampler=loader.sampler,
                          drop_last=True, num_workers=self.num_workers, collate_fn=self.add_typos)

    def add_typos(self, windows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = default_collate(windows)
        inputs = batch["inputs"]  # (B, T) ids; id 0 is the unknown token, never drawn
        hit = torch.rand(inputs.shape, generator=self.generator) < self.typo_rate
        typos = torch.randint(1, len(self.vocab), inputs.shape, generator=self.generator)
        batch["inputs"] = torch.where(hit, typos.to(inputs.dtype), inputs)
        return batch
