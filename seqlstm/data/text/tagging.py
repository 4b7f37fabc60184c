"""Token tagging (named entities, parts of speech) from CoNLL-2003 style or CoNLL-U files.

Words are tokenized one by one (``data.tokenizer``, fitted on the training split alone). With a
subword tokenizer a word may give several tokens: the first carries the word's tag, the others
are not scored (``IGNORE_INDEX``), and predictions come back per word, read at each word's first
token. BIO tags (``B-PER``, ``I-PER``, ``O``) also get span-level precision/recall/F1 (the
:class:`~seqlstm.tasks.Tagger` adds them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from seqlstm.data.sequences.batches import PaddedSequences, bucketed_loader
from seqlstm.data.sequences.in_memory import InMemoryDataModule, check_int
from seqlstm.data.sequences.module import stratified_split
from seqlstm.data.text.conll import TaggedSentences, read_tagged
from seqlstm.data.text.tokenizing import (
    Tokenizer,
    build_tokenizer,
    report_coverage,
    tokenizer_from_extra,
)
from seqlstm.errors import ConfigError, DataError, check_holdout
from seqlstm.spec import IGNORE_INDEX, DataSpec


def first_tokens(word_ids: np.ndarray) -> np.ndarray:
    """Position of each word's first token, in word order (``word_ids``: the word of each
    token, every word present)."""
    words, first = np.unique(word_ids, return_index=True)
    return first[np.argsort(words)]


def token_targets(word_ids: np.ndarray, tags: np.ndarray) -> np.ndarray:
    """Per-token targets: the word's tag at its first token, ``IGNORE_INDEX`` elsewhere."""
    out = np.full(len(word_ids), IGNORE_INDEX, dtype=np.int64)
    out[first_tokens(word_ids)] = tags
    return out


class TokenTaggingDataModule(InMemoryDataModule):
    """One tag per word.

    Args:
        path: the training file.
        val_path, test_path: their files (CoNLL-2003 ships ``valid`` and ``test``); None
            carves ``val_fraction`` / ``test_fraction`` of the sentences out of ``path``.
        format: ``auto`` (``.conllu`` is CoNLL-U, anything else CoNLL), ``conll``, ``conllu``.
        token_column, tag_column: 0-based columns (None: CoNLL word and last column; CoNLL-U
            FORM and UPOS, 1 and 3; negative counts from the end).
        tokenizer: ``word`` (default), ``char``, ``bpe``, ``unigram``, ``wordpiece`` or a
            ``tokenizer.json``; vocab_size, min_frequency, lowercase: its options.
        fitted, predict_path, vocab: as for :class:`TextClassificationDataModule`.
    """

    def __init__(
        self,
        path: str | None = None,
        val_path: str | None = None,
        test_path: str | None = None,
        format: str = "auto",
        token_column: int | None = None,
        tag_column: int | None = None,
        tokenizer: str = "word",
        vocab_size: int = 20000,
        min_frequency: int = 1,
        lowercase: bool = False,
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
        check_int("data.vocab_size", vocab_size, 2)
        self.fractions = check_holdout(val_fraction, test_fraction, val_path=val_path,
                                       test_path=test_path, val_path_allowed=True)
        self.fitted: dict[str, Any] | None = dict(fitted) if fitted else None
        self.tokenizer: Tokenizer | None = None
        self.predict_words: list[list[str]] = []
        self.first: dict[str, list[np.ndarray]] = {}

    def read(self, path: str, require_tags: bool = True) -> TaggedSentences:
        h = self.hparams
        return read_tagged(path, h.format, h.token_column, h.tag_column, require_tags)

    def setup(self, stage: str | None = None) -> None:
        if stage != "predict" and "train" not in self.splits:
            self._setup_splits()
        if stage in ("predict", None) and self.hparams.predict_path \
                and "predict" not in self.splits:
            self._setup_predict()

    def _setup_splits(self) -> None:
        h = self.hparams
        if h.path is None:
            raise ConfigError("data.path", "a CoNLL or CoNLL-U file of tagged sentences", None)
        data = self.read(h.path)
        train_idx, val_idx, test_idx = stratified_split(len(data.words), None, self.fractions,
                                                        h.seed)
        parts = {"train": data.subset(train_idx.tolist()),
                 "val": self.read(h.val_path) if h.val_path else data.subset(val_idx.tolist()),
                 "test": self.read(h.test_path) if h.test_path
                 else data.subset(test_idx.tolist())}
        for name, part in parts.items():
            if not part.words:
                raise DataError(f"{data.path}: the {name} split has no sentences (of "
                                f"{len(data.words)}); lower the other fractions")
        if self.fitted is None:
            self.fitted = self._fit(parts["train"])
        self.tokenizer = tokenizer_from_extra(self.fitted["tokenizer"])
        self.fitted["coverage"] = {}
        for name, part in parts.items():
            self.splits[name], self.fitted["coverage"][name] = self._encode(name, part)

    def _fit(self, train: TaggedSentences) -> dict[str, Any]:
        h = self.hparams
        tokenizer = build_tokenizer(h.tokenizer, [" ".join(w) for w in train.words],
                                    h.vocab_size, h.min_frequency, h.lowercase)
        counts = Counter(t for sentence in train.tags for t in sentence)
        labels = sorted(counts, key=lambda t: (t != "O", t[2:], t))  # O, then by type: B, I
        return {"labels": labels, "class_counts": [counts[t] for t in labels],
                "tokenizer": tokenizer.as_extra()}

    def _setup_predict(self) -> None:
        if self.fitted is None:
            self._setup_splits()
        if self.tokenizer is None:
            self.tokenizer = tokenizer_from_extra(self.fitted["tokenizer"])
        data = self.read(self.hparams.predict_path, require_tags=False)
        self.splits["predict"], _ = self._encode("predict", data)
        self.predict_words = data.words
        self.predict_ids = [str(i) for i in range(len(data.words))]
        self.predict_labels = data.tags

    def _encode(self, name: str, data: TaggedSentences) -> tuple[PaddedSequences, dict]:
        ids = {t: i for i, t in enumerate(self.fitted["labels"])}
        encoded = self.tokenizer.encode_words(data.words)
        self.first[name] = [first_tokens(w) for _, w in encoded]
        coverage = report_coverage(name, [i for i, _ in encoded], self.tokenizer,
                                   f"{data.path}: ")
        lengths = torch.tensor([len(i) for i, _ in encoded], dtype=torch.long)
        inputs = torch.zeros(len(encoded), int(lengths.max()), dtype=torch.long)  # (N, T)
        for row, (token_ids, _) in enumerate(encoded):
            inputs[row, : len(token_ids)] = torch.from_numpy(token_ids)
        targets = None
        if data.tags is not None and name != "predict":
            targets = torch.full(inputs.shape, IGNORE_INDEX, dtype=torch.long)  # (N, T)
            for row, ((_, word_ids), tags) in enumerate(zip(encoded, data.tags, strict=True)):
                for k, tag in enumerate(tags):
                    if tag not in ids:
                        raise DataError(f"{data.path}:{data.lines[row][k]}: tag {tag!r} is not "
                                        f"among the training tags {list(ids)[:20]}")
                tag_ids = np.array([ids[t] for t in tags], dtype=np.int64)
                targets[row, : len(word_ids)] = torch.from_numpy(token_targets(word_ids,
                                                                               tag_ids))
        return PaddedSequences(inputs, lengths, targets), coverage

    def train_dataloader(self) -> DataLoader:
        if not self.hparams.bucket:
            return super().train_dataloader()
        return bucketed_loader(self.splits["train"], self.batch_size, self.hparams.seed,
                               self.num_workers)

    def prediction_steps(self, index: int, length: int) -> np.ndarray:
        """Each word's first token (where its tag is read)."""
        return self.first["predict"][index]

    def format_predictions(self, outputs: list[dict[str, torch.Tensor]]) -> Any:
        """One row per word, in CoNLL order: ``sentence``, ``word`` (its position), ``token``
        (the word), ``predicted``, ``prob_<tag>``... and ``tag`` when the file had tags."""
        table = super().format_predictions(outputs)
        table = table.rename(columns={"id": "sentence", "step": "word", "label": "tag"})
        table["sentence"] = table["sentence"].astype(int)
        table.insert(2, "token", [w for sentence in self.predict_words for w in sentence])
        return table

    def write_conll(self, table: Any, path: str | Path) -> Path:
        """``table`` (from :meth:`format_predictions`) in CoNLL form: one word a line (the word,
        its tag when the file had tags, then the predicted tag: the column order ``conlleval``
        reads), a blank line between sentences. Columns are separated by a space, or by a tab
        when a word holds a space (CoNLL-U allows it)."""
        columns = ["token", *(["tag"] if "tag" in table else []), "predicted"]
        sep = "\t" if table["token"].str.contains(" ").any() else " "
        lines = []
        for _, sentence in table.groupby("sentence", sort=True):
            lines.extend(sep.join(row) for row in sentence[columns].itertuples(index=False))
            lines.append("")
        path = Path(path)
        path.write_text("\n".join(lines), encoding="utf-8")
        return path

    @property
    def spec(self) -> DataSpec:
        if self.fitted is None or self.tokenizer is None:
            raise RuntimeError("call setup() before reading spec")
        labels = list(self.fitted["labels"])
        return DataSpec(input_kind="tokens", target_kind="step_class",
                        input_size=len(self.tokenizer), output_size=len(labels),
                        variable_length=True, vocab=self.tokenizer.tokens, labels=labels,
                        extra=dict(self.fitted))

