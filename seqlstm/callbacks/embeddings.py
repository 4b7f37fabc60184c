"""Initialising a token embedding from pretrained word vectors (GloVe, word2vec, fastText).

Text formats: one ``word v1 ... vd`` line per word (GloVe ``.txt``), optionally after a
``count dim`` header line (word2vec / fastText ``.vec``). Only the vectors of the model's
vocabulary are kept; a word is looked up as it is, then lowercased. How much of the vocabulary
the file covers is logged (and put in ``pl_module.pretrained_coverage``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from seqlstm.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def read_vectors(path: str | Path, vocab: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The vectors of ``vocab`` in ``path``: ``(V, d)`` float32 (zeros where absent) and a
    ``(V,)`` bool mask of the rows found. A line of the wrong width names file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such vector file")
    rows: dict[str, list[int]] = {}
    for i, token in enumerate(vocab):
        rows.setdefault(token, []).append(i)
    lower = {}
    for i, token in enumerate(vocab):
        lower.setdefault(token.lower(), []).append(i)
    matrix: np.ndarray | None = None
    found = np.zeros(len(vocab), dtype=bool)
    exact = np.zeros(len(vocab), dtype=bool)
    dim = None
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            fields = line.rstrip("\n\r ").split(" ")
            if number == 1 and len(fields) == 2 and all(x.isdigit() for x in fields):
                continue  # word2vec / fastText header: count dim
            if dim is None:
                dim = len(fields) - 1
                if dim < 1:
                    raise DataError(f"{path}:{number}: expected 'word v1 ... vd', got "
                                    f"{line[:60]!r}")
                matrix = np.zeros((len(vocab), dim), dtype=np.float32)
            if len(fields) != dim + 1:
                raise DataError(f"{path}:{number}: {len(fields) - 1} values, expected {dim} "
                                "(as on the first vector line)")
            word = fields[0]
            exact_rows = rows.get(word, [])
            loose_rows = [i for i in lower.get(word.lower(), ()) if not exact[i] and not found[i]
                          and i not in exact_rows]
            if not exact_rows and not loose_rows:
                continue
            try:
                vector = np.asarray(fields[1:], dtype=np.float32)
            except ValueError:
                raise DataError(f"{path}:{number}: a value is not a number") from None
            for i in exact_rows:
                matrix[i], found[i], exact[i] = vector, True, True
            for i in loose_rows:
                matrix[i], found[i] = vector, True
    if matrix is None:
        raise DataError(f"{path}: no vectors")
    return matrix, found


class PretrainedEmbeddings(L.Callback):
    """At the start of a fresh fit, copy the vectors of ``path`` into the task's token
    embedding (rows the file lacks keep their random init); ``freeze`` keeps them fixed.

    A resumed fit restores the checkpoint's embedding instead (the file is not read).
    """

    def __init__(self, path: str, freeze: bool = False) -> None:
        self.path, self.freeze = path, freeze

    def setup(self, trainer: L.Trainer, pl_module: Any, stage: str) -> None:
        if stage != "fit":
            return
        embedding = getattr(pl_module, "embedding", None)
        vocab = pl_module.spec.vocab
        if embedding is None or not vocab:
            raise ConfigError("callbacks.pretrained_embeddings", "data with token inputs and a "
                              "vocabulary", pl_module.spec.input_kind)
        if trainer.ckpt_path is None:
            matrix, found = read_vectors(self.path, vocab)
            if matrix.shape[1] != embedding.embedding_dim:
                raise ConfigError("model.embedding_dim", f"{matrix.shape[1]} (the width of "
                                  f"{self.path})", embedding.embedding_dim)
            with torch.no_grad():
                rows = torch.from_numpy(np.flatnonzero(found))
                embedding.weight[rows] = torch.from_numpy(matrix[found]).to(embedding.weight)
            coverage = float(found.mean())
            pl_module.pretrained_coverage = coverage
            log.info("%s: vectors for %d of %d tokens (%.1f%%)%s", self.path, int(found.sum()),
                     len(vocab), 100 * coverage, "; frozen" if self.freeze else "")
        if self.freeze:
            embedding.weight.requires_grad_(False)
