"""Choosing a tokenizer from ``data.tokenizer`` and reporting how well it covers each split.

``char`` keeps the character :class:`~seqlstm.spec.Vocabulary`; ``word``, ``bpe``,
``unigram`` and ``wordpiece`` train a :class:`~seqlstm.tokens.TextTokenizer` on the training
split alone; any other value is the path of a ``tokenizer.json``. Either way the result has the
same small interface (:class:`CharTokenizer` adapts the vocabulary) and travels in
``spec.extra["tokenizer"]`` as plain data.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from seqlstm.errors import ConfigError
from seqlstm.spec import Vocabulary
from seqlstm.tokens import KINDS, TextTokenizer, unknown_share

log = logging.getLogger(__name__)


class CharTokenizer:
    """The character vocabulary behind the tokenizer interface (id 0: unknown)."""

    kind = "char"
    unk_id = 0

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab

    def __len__(self) -> int:
        return len(self.vocab)

    @property
    def tokens(self) -> list[str]:
        return self.vocab.tokens

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        return [self.vocab.encode_counting(t)[0].astype(np.int64) for t in texts]

    def encode_words(self, words: Sequence[Sequence[str]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Words joined by one space; the space belongs to the word after it."""
        out = []
        for sentence in words:
            pieces = [(" " if i else "") + w for i, w in enumerate(sentence)]
            ids = self.encode_batch(["".join(pieces)])[0]
            word_ids = np.repeat(np.arange(len(sentence)), [len(p) for p in pieces])
            out.append((ids, word_ids))
        return out

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        return self.vocab.decode(np.asarray(ids))

    def as_extra(self) -> dict[str, Any]:
        return {"kind": "char", "tokens": list(self.vocab.tokens)}


Tokenizer = CharTokenizer | TextTokenizer


def build_tokenizer(choice: str, train_texts: Sequence[str], vocab_size: int = 20000,
                    min_frequency: int = 1, lowercase: bool = False,
                    special_tokens: Sequence[str] = (), word_split: str = "regex") -> Tokenizer:
    """The tokenizer ``data.tokenizer`` names, fitted on ``train_texts`` (the train split);
    ``word_split``: how ``word`` splits (``regex`` or ``whitespace``)."""
    if not isinstance(choice, str) or not choice:
        raise ConfigError("data.tokenizer", f"char, one of {list(KINDS)} or a tokenizer.json "
                          "path", choice)
    if choice == "char":
        return CharTokenizer(Vocabulary.from_pieces(train_texts))
    if choice in KINDS:
        return TextTokenizer.train(choice, train_texts, vocab_size, min_frequency, lowercase,
                                   special_tokens, word_split)
    return TextTokenizer.from_file(choice)


def tokenizer_from_extra(extra: Mapping[str, Any]) -> Tokenizer:
    """The tokenizer a checkpoint's ``spec.extra["tokenizer"]`` carries."""
    if extra["kind"] == "char":
        return CharTokenizer(Vocabulary(list(extra["tokens"])))
    return TextTokenizer.from_extra(dict(extra))


def report_coverage(name: str, ids: Sequence[np.ndarray], tokenizer: Tokenizer,
                    where: str = "") -> dict[str, float | int]:
    """The share of unknown tokens in one split (logged; a warning when any)."""
    unknown, total = unknown_share(ids, tokenizer.unk_id)
    share = unknown / total if total else 0.0
    message = (f"{where}{name}: {unknown} of {total} tokens ({share:.2%}) are the unknown token "
               f"{tokenizer.tokens[tokenizer.unk_id]!r}")
    (log.warning if unknown and name != "train" else log.info)(message)
    return {"unknown": unknown, "tokens": total, "unknown_share": share}
