"""Text classification: labelled texts -> token ids -> padded, length-bucketed batches.

Sources: a CSV/TSV/JSONL/Parquet table (``text_column``, ``label_column``) or a folder with
one sub-folder of ``.txt`` files per label (the aclImdb layout); see
:mod:`seqlstm.data.text.records`. The tokenizer (``data.tokenizer``) is fitted on the training
split alone and travels with the label names, class counts and per-split coverage in
``spec.extra`` (the fitted state a checkpoint carries).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader

from seqlstm.data.sequences.batches import PaddedSequences, bucketed_loader
from seqlstm.data.sequences.in_memory import InMemoryDataModule, check_int
from seqlstm.data.sequences.module import natural_key, stratified_split
from seqlstm.data.text.records import TextRecords, read_records
from seqlstm.data.text.tokenizing import (
    Tokenizer,
    build_tokenizer,
    report_coverage,
    tokenizer_from_extra,
)
from seqlstm.errors import ConfigError, DataError, check_holdout
from seqlstm.spec import DataSpec

log = logging.getLogger(__name__)
TRUNCATIONS = ("right", "left")


class TextClassificationDataModule(InMemoryDataModule):
    """One label per text.

    Args:
        path: the training table or folder.
        test_path: the test table or folder; None carves ``test_fraction`` out of ``path``.
        text_column: the text column (a list: columns joined by a space, e.g. title + body).
        label_column: the label column.
        header: the table's first row names its columns (false: columns are ``0``, ``1``...).
        labels: label names in order (a folder: only these sub-folders); None: sorted labels
            of the training split.
        tokenizer: ``char``, ``word``, ``bpe``, ``unigram``, ``wordpiece`` or a
            ``tokenizer.json`` path.
        vocab_size, min_frequency, lowercase: options of a trained tokenizer.
        max_length: tokens kept per text; longer texts are cut (``truncation``).
        truncation: ``right`` keeps the first ``max_length`` tokens, ``left`` the last.
        val_fraction, test_fraction, seed: the seeded, stratified split of ``path``.
        bucket: batch texts of similar length together in training (:class:`LengthBuckets`).
        fitted: the fitted state from a checkpoint's ``spec.extra`` (None: fit on ``path``).
        predict_path: a table or folder of new texts (labels optional).
        vocab: accepted for the evaluation CLI (which passes ``spec.vocab``); the tokenizer in
            ``fitted`` is what encodes.
    """

    def __init__(
        self,
        path: str | None = None,
        test_path: str | None = None,
        text_column: str | Sequence[str] = "text",
        label_column: str = "label",
        header: bool = True,
        labels: Sequence[str] | None = None,
        tokenizer: str = "word",
        vocab_size: int = 20000,
        min_frequency: int = 1,
        lowercase: bool = True,
        max_length: int = 256,
        truncation: str = "right",
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = 0,
        batch_size: int = 32,
        bucket: bool = True,
        fitted: Mapping[str, Any] | None = None,
        predict_path: str | None = None,
        vocab: list[str] | None = None,
        num_workers: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers)
        self.save_hyperparameters()
        check_int("data.max_length", max_length, 1)
        check_int("data.vocab_size", vocab_size, 2)
        check_int("data.min_frequency", min_frequency, 1)
        if truncation not in TRUNCATIONS:
            raise ConfigError("data.truncation", f"one of {list(TRUNCATIONS)} (right keeps the "
                              "start of a text)", truncation)
        self.fractions = check_holdout(val_fraction, test_fraction, test_path=test_path)
        self.fitted: dict[str, Any] | None = dict(fitted) if fitted else None
        self.tokenizer: Tokenizer | None = None
        self.predict_texts: list[str] = []

    # -- reading ----------------------------------------------------------------------------
    def read(self, path: str, require_labels: bool = True) -> TextRecords:
        h = self.hparams
        return read_records(path, h.text_column, h.label_column, h.header, require_labels,
                            h.labels)

    def setup(self, stage: str | None = None) -> None:
        if stage != "predict" and "train" not in self.splits:
            self._setup_splits()
        if stage in ("predict", None) and self.hparams.predict_path \
                and "predict" not in self.splits:
            self._setup_predict()

    def split_records(self) -> dict[str, TextRecords]:
        """The train/val/test texts and labels (the seeded, stratified split of ``path``; the
        test file when there is one), before tokenizing."""
        if self.hparams.path is None:
            raise ConfigError("data.path", "a table or a folder of labelled texts", None)
        data = self.read(self.hparams.path)
        train_idx, val_idx, test_idx = stratified_split(len(data.texts), data.labels,
                                                        self.fractions, self.hparams.seed)
        if len(val_idx) == 0:
            raise DataError(f"{data.path}: data.val_fraction={self.fractions[0]} leaves no "
                            f"text for validation out of {len(data.texts)}")
        parts = {"train": data.subset(train_idx), "val": data.subset(val_idx)}
        parts["test"] = (self.read(self.hparams.test_path) if self.hparams.test_path
                         else data.subset(test_idx))
        return parts

    def _setup_splits(self) -> None:
        parts = self.split_records()
        if self.fitted is None:
            self.fitted = self._fit(parts["train"])
        self.tokenizer = tokenizer_from_extra(self.fitted["tokenizer"])
        coverage = {}
        for name, part in parts.items():
            self.splits[name], coverage[name] = self._encode(name, part)
        self.fitted["coverage"] = coverage

    def _fit(self, train: TextRecords) -> dict[str, Any]:
        """Tokenizer, label names and class counts from the training split alone."""
        h = self.hparams
        tokenizer = build_tokenizer(h.tokenizer, train.texts, h.vocab_size, h.min_frequency,
                                    h.lowercase)
        labels = ([str(v) for v in h.labels] if h.labels
                  else sorted(set(train.labels), key=natural_key))
        counts = Counter(train.labels)
        return {"labels": labels, "class_counts": [counts[label] for label in labels],
                "tokenizer": tokenizer.as_extra()}

    def _setup_predict(self) -> None:
        if self.fitted is None:
            self._setup_splits()
        if self.tokenizer is None:
            self.tokenizer = tokenizer_from_extra(self.fitted["tokenizer"])
        data = self.read(self.hparams.predict_path, require_labels=False)
        self.splits["predict"], _ = self._encode("predict", data)
        self.predict_ids, self.predict_labels = data.ids, data.labels
        self.predict_texts = data.texts

    def _encode(self, name: str, data: TextRecords) -> tuple[PaddedSequences, dict[str, Any]]:
        """Token ids (cut to ``max_length``), padded; labels checked against training's."""
        labels = self.fitted["labels"]
        ids = {label: i for i, label in enumerate(labels)}
        targets = None
        if data.labels is not None:
            unseen = [(lab, w) for lab, w in zip(data.labels, data.where, strict=True)
                      if lab not in ids]
            if unseen and name != "predict":
                raise DataError(f"{unseen[0][1]}: label {unseen[0][0]!r} is not among the "
                                f"training labels {labels[:20]}")
            if unseen:
                log.warning("%s: %d texts have labels training never saw (first: %r at %s); "
                            "they are predicted, and kept as they are in the label column",
                            data.path, len(unseen), unseen[0][0], unseen[0][1])
            else:
                targets = torch.tensor([ids[v] for v in data.labels], dtype=torch.long)
        encoded = self.tokenizer.encode_batch(data.texts)
        for row, where in zip(encoded, data.where, strict=True):
            if len(row) == 0:
                raise DataError(f"{where}: the text gives no tokens")
        coverage = report_coverage(name, encoded, self.tokenizer, f"{data.path}: ")
        keep = self.hparams.max_length
        cut = [r[:keep] if self.hparams.truncation == "right" else r[-keep:] for r in encoded]
        truncated = sum(len(r) > keep for r in encoded)
        if truncated:
            log.info("%s %s: %d of %d texts cut to max_length=%d tokens (truncation=%s)",
                     data.path, name, truncated, len(encoded), keep, self.hparams.truncation)
        coverage["truncated"] = truncated
        lengths = torch.tensor([len(r) for r in cut], dtype=torch.long)
        inputs = torch.zeros(len(cut), int(lengths.max()), dtype=torch.long)  # (N, T) ids
        for i, row in enumerate(cut):
            inputs[i, : len(row)] = torch.from_numpy(row)
        return PaddedSequences(inputs, lengths, targets), coverage

    # -- loaders and predictions ------------------------------------------------------------
    def train_dataloader(self) -> DataLoader:
        if not self.hparams.bucket:
            return super().train_dataloader()
        return bucketed_loader(self.splits["train"], self.batch_size, self.hparams.seed,
                               self.num_workers)

    def format_predictions(self, outputs: list[dict[str, torch.Tensor]]) -> Any:
        """One row per text: ``id``, ``text``, ``predicted``, ``prob_<label>``... and
        ``label`` when the file had labels."""
        table = super().format_predictions(outputs)
        table.insert(1, "text", self.predict_texts)
        return table

    @property
    def spec(self) -> DataSpec:
        if self.fitted is None or self.tokenizer is None:
            raise RuntimeError("call setup() before reading spec")
        labels = list(self.fitted["labels"])
        return DataSpec(input_kind="tokens", target_kind="class", input_size=len(self.tokenizer),
                        output_size=len(labels), variable_length=True,
                        vocab=self.tokenizer.tokens, labels=labels, extra=dict(self.fitted))

