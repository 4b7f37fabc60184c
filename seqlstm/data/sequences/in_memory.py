"""The base of data modules whose splits are held in memory as padded tensors
(:class:`PaddedSequences`): loaders, and predictions turned into a table."""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import DataLoader

from seqlstm.data.sequences.batches import PaddedSequences, keep_batch
from seqlstm.data.streams import ResumableRandomSampler, ResumePoint
from seqlstm.errors import DataError, check_int
from seqlstm.spec import DataSpec


class InMemoryDataModule(L.LightningDataModule):
    """Loaders over in-memory splits, and predictions turned into a table.

    Subclasses fill :attr:`splits` (``train``, ``val``, ``test``, ``predict``) in ``setup``, set
    :attr:`predict_ids` (one name per predicted sequence) and define :attr:`spec`.
    ``min_train_batches`` > 1 shrinks the training batches of a small split
    (:meth:`train_batch_size`).
    """

    def __init__(self, batch_size: int = 32, num_workers: int = 0,
                 min_train_batches: int = 1) -> None:
        super().__init__()
        check_int("data.batch_size", batch_size, 1)
        check_int("data.min_train_batches", min_train_batches, 1)
        self.batch_size, self.num_workers = batch_size, num_workers
        self.min_train_batches = min_train_batches
        self.splits: dict[str, PaddedSequences] = {}
        self.predict_ids: list[str] = []
        self.predict_labels: list[Any] | None = None
        self.sampler_seed = torch.initial_seed()  # set by seed_everything
        self.resume_point = ResumePoint()

    @property
    def spec(self) -> DataSpec:
        raise NotImplementedError

    def _loader(self, name: str, sampler: ResumableRandomSampler | None = None,
                batch_size: int | None = None) -> DataLoader:
        if name not in self.splits:
            raise RuntimeError(f"call setup() before asking for the {name} loader")
        generator = torch.Generator().manual_seed(self.sampler_seed % 2**63)
        return DataLoader(self.splits[name], batch_size=batch_size or self.batch_size,
                          sampler=sampler, collate_fn=keep_batch, num_workers=self.num_workers,
                          generator=generator)

    def train_dataloader(self) -> DataLoader:
        """Training batches in an order set by ``(sampler seed, epoch)`` alone: each sequence
        once per epoch, and a fit resumed mid-epoch goes on with the next batch."""
        size = len(self.splits["train"]) if "train" in self.splits else 0
        sampler = ResumableRandomSampler(size, size, self.sampler_seed, replacement=False)
        batch_size = self.train_batch_size(size)
        self.resume_point.resume_sampler(sampler, batch_size)
        return self._loader("train", sampler, batch_size)

    def train_batch_size(self, size: int) -> int:
        """``batch_size``, or less when a training split of ``size`` sequences would give each
        rank fewer than ``min_train_batches`` batches (optimiser steps) per epoch: then
        ``ceil(size / (ranks x min_train_batches))``, with a warning. In batches of 32, a split of
        32 sequences is one full-batch step per epoch (see docs/reliability.md)."""
        ranks = self.trainer.world_size if self.trainer is not None else 1
        per_rank = math.ceil(size / ranks)
        batches = math.ceil(per_rank / self.batch_size)
        if batches >= self.min_train_batches or per_rank <= batches:
            return self.batch_size
        smaller = math.ceil(per_rank / self.min_train_batches)
        rank_zero_warn(f"data.batch_size={self.batch_size} gives {batches} training batch(es) "
                       f"per epoch from {per_rank} sequences; training in "
                       f"batches of {smaller} to reach data.min_train_batches="
                       f"{self.min_train_batches} (set it to 1 to keep {self.batch_size})")
        return smaller

    def state_dict(self) -> dict[str, Any]:
        """The sampler seed and the training position (see :class:`ResumePoint`)."""
        return {"sampler_seed": self.sampler_seed, **self.resume_point.save(self.trainer)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.sampler_seed = int(state_dict.get("sampler_seed", self.sampler_seed))
        self.resume_point.load(state_dict)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._loader("predict")

    def format_predictions(self, outputs: list[dict[str, torch.Tensor]]) -> Any:
        """A pandas DataFrame of the ``predict_step`` outputs of :meth:`predict_dataloader`.

        ``class``: one row per sequence (``id``, ``predicted``, ``prob_<label>`` for each label,
        and ``label`` when the predict file had labels). ``step_class``: one row per step of
        :meth:`prediction_steps` (``id``, ``step``, then the same columns).
        """
        import pandas as pd

        spec = self.spec
        if spec.target_kind == "real":
            return self._format_real(outputs)
        if spec.target_kind not in ("class", "step_class"):
            raise DataError(f"format_predictions: no table for target kind "
                            f"'{spec.target_kind}' in {type(self).__name__}")
        labels = spec.label_names
        names = np.array(labels, dtype=object)
        rows: dict[str, list[Any]] = {"id": []}
        if spec.target_kind == "step_class":
            rows["step"] = []
        rows["predicted"] = []
        probs: list[np.ndarray] = []
        sequence = 0
        for out in outputs:
            classes, p = out["class"].cpu().numpy(), out["probs"].float().cpu().numpy()
            for b in range(classes.shape[0]):
                seq_id = self.predict_ids[sequence]
                sequence += 1
                if spec.target_kind == "class":
                    rows["id"].append(seq_id)
                    rows["predicted"].append(names[classes[b]])
                    probs.append(p[b][None])
                    continue
                length = int(out["lengths"][b]) if "lengths" in out else classes.shape[1]
                steps = self.prediction_steps(sequence - 1, length)
                rows["id"].extend([seq_id] * len(steps))
                rows["step"].extend(range(len(steps)))
                rows["predicted"].extend(names[classes[b, steps]])
                probs.append(p[b, steps])
        if sequence != len(self.predict_ids):
            raise DataError(f"format_predictions: got {sequence} predicted sequences for "
                            f"{len(self.predict_ids)} in the predict data")
        table = pd.DataFrame(rows)
        stacked = np.concatenate(probs) if probs else np.zeros((0, len(labels)))
        for i, label in enumerate(labels):
            table[f"prob_{label}"] = stacked[:, i]
        if self.predict_labels is not None:
            truth = (self.predict_labels if spec.target_kind == "class"
                     else np.concatenate(self.predict_labels).tolist())
            table["label"] = truth
        return table

    def prediction_steps(self, index: int, length: int) -> np.ndarray:
        """The steps of predicted sequence ``index`` (``length`` valid steps) that get a row of
        a ``step_class`` table: all of them here; a tagger reads each word's first token."""
        return np.arange(length)

    def _format_real(self, outputs: list[dict[str, torch.Tensor]]) -> Any:
        """Real targets: one row per sequence; each output (``mean``, ``lower``, ``upper``)
        ``(B, horizon, n)`` gives ``horizon * n`` columns."""
        import pandas as pd

        table = pd.DataFrame({"id": self.predict_ids})
        for name in outputs[0] if outputs else ():
            values = torch.cat([out[name].float().flatten(1).cpu() for out in outputs]).numpy()
            if len(values) != len(self.predict_ids):
                raise DataError(f"format_predictions: got {len(values)} predicted sequences "
                                f"for {len(self.predict_ids)} in the predict data")
            columns = _real_columns(name, self.spec.horizon, self.spec.output_size)
            table = table.join(pd.DataFrame(values, columns=columns))
        return table


def _real_columns(name: str, horizon: int, width: int) -> list[str]:
    """``mean`` for one value per sequence, else ``mean_h1_0``... (step of horizon, target)."""
    if horizon == width == 1:
        return [name]
    return [f"{name}_h{h + 1}_{k}" for h in range(horizon) for k in range(width)]
