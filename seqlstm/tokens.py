"""The tokenizer codec of ``spec.extra["tokenizer"]``: words and subwords as token ids.

A sibling of :mod:`seqlstm.spec` (which holds the character :class:`~seqlstm.spec.Vocabulary`):
plain data in, plain data out. A :class:`TextTokenizer` wraps a Hugging Face ``tokenizers``
tokenizer and travels in checkpoints as its JSON string (``as_extra``/``from_extra``), so a
checkpoint still loads with ``weights_only=True``. ``tokenizers`` is imported lazily, only when a
word or subword tokenizer is built or read; without it one line names the extra to install.

Kinds (trained on the training split alone):

- ``word``: one id per word (regex split ``\\w+|[^\\w\\s]+``) with ``min_frequency`` and
  a ``vocab_size`` cap; decodes to the words joined by spaces.
- ``bpe``: byte-level BPE (GPT-2 style: every byte is in the vocabulary, nothing is unknown);
  lossless decoding.
- ``unigram``: a Unigram LM over Metaspace pieces (SentencePiece style); lossless up to runs of
  whitespace.
- ``wordpiece``: WordPiece over whitespace/punctuation words (BERT); ``##`` pieces joined.

Id 0 is always the unknown token (as for characters); ``special_tokens`` follow it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seqlstm.errors import ConfigError, DataError
from seqlstm.spec import Vocabulary

KINDS = ("word", "bpe", "unigram", "wordpiece")
UNK_TOKEN = "[UNK]"
#: the end-of-line token of word corpora (WikiText, PTB), one per line
EOS = "<eos>"
INSTALL = "pip install 'seqlstm[text]'"


def require_tokenizers() -> Any:
    """The ``tokenizers`` module, or one clear line saying how to install it."""
    try:
        import tokenizers
    except ImportError:
        raise ConfigError("data.tokenizer", f"the 'tokenizers' package for word and subword "
                          f"tokenizers ({INSTALL})", "not installed") from None
    return tokenizers


class TextTokenizer:
    """Text <-> token ids through a Hugging Face tokenizer (id 0: the unknown token)."""

    def __init__(self, tokenizer: Any, kind: str) -> None:
        self.tokenizer, self.kind = tokenizer, kind
        self.unk_id = 0
        if tokenizer.id_to_token(0) is None:
            raise DataError(f"a {kind} tokenizer needs a token with id 0 (the unknown token)")

    # -- building ---------------------------------------------------------------------------
    @classmethod
    def train(cls, kind: str, texts: Iterable[str], vocab_size: int = 20000,
              min_frequency: int = 1, lowercase: bool = False,
              special_tokens: Sequence[str] = (), word_split: str = "regex") -> TextTokenizer:
        """Train a ``kind`` tokenizer on ``texts`` (the training split alone); ``word``
        splits by the regex or, with ``word_split="whitespace"``, at whitespace alone (for
        corpora that are already tokenized, like WikiText and PTB)."""
        tk = require_tokenizers()
        if kind not in KINDS:
            raise ConfigError("data.tokenizer", f"char, one of {list(KINDS)} or a tokenizer.json "
                              "file", kind)
        models, pre, dec, trainers, norm = (tk.models, tk.pre_tokenizers, tk.decoders,
                                            tk.trainers, tk.normalizers)
        specials = [UNK_TOKEN, *[s for s in special_tokens if s != UNK_TOKEN]]
        options = {"vocab_size": vocab_size, "special_tokens": specials, "show_progress": False}
        if kind == "word":
            tokenizer = tk.Tokenizer(models.WordLevel(unk_token=UNK_TOKEN))
            tokenizer.pre_tokenizer = (pre.WhitespaceSplit() if word_split == "whitespace"
                                       else pre.Whitespace())
            trainer = trainers.WordLevelTrainer(min_frequency=min_frequency, **options)
        elif kind == "bpe":
            tokenizer = tk.Tokenizer(models.BPE(unk_token=UNK_TOKEN))
            tokenizer.pre_tokenizer = pre.ByteLevel(add_prefix_space=False)
            tokenizer.decoder = dec.ByteLevel()
            trainer = trainers.BpeTrainer(min_frequency=min_frequency,
                                          initial_alphabet=pre.ByteLevel.alphabet(), **options)
        elif kind == "unigram":
            tokenizer = tk.Tokenizer(models.Unigram())
            tokenizer.pre_tokenizer = pre.Metaspace()
            tokenizer.decoder = dec.Metaspace()
            trainer = trainers.UnigramTrainer(unk_token=UNK_TOKEN, **options)
        else:
            tokenizer = tk.Tokenizer(models.WordPiece(unk_token=UNK_TOKEN))
            tokenizer.pre_tokenizer = pre.BertPreTokenizer()
            tokenizer.decoder = dec.WordPiece()
            trainer = trainers.WordPieceTrainer(min_frequency=min_frequency, **options)
        if lowercase:
            tokenizer.normalizer = norm.Lowercase()
        tokenizer.train_from_iterator(texts, trainer=trainer)
        return cls(tokenizer, kind)

    @classmethod
    def from_file(cls, path: str | Path) -> TextTokenizer:
        """A user's ``tokenizer.json``; a file that is not one is a one-line error."""
        tk = require_tokenizers()
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: no such tokenizer file")
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            tokenizer = tk.Tokenizer.from_str(text)
        except Exception as err:  # tokenizers raises a bare Exception
            where = _json_position(text)
            reason = str(err).splitlines()[0][:120]
            raise DataError(f"{path}{where}: not a Hugging Face tokenizer.json ({reason})"
                            ) from None
        return cls(tokenizer, "file")

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> TextTokenizer:
        """The tokenizer carried by ``spec.extra["tokenizer"]``."""
        tk = require_tokenizers()
        return cls(tk.Tokenizer.from_str(extra["json"]), extra["kind"])

    def as_extra(self) -> dict[str, Any]:
        """Plain data for ``spec.extra["tokenizer"]``: the kind and the JSON string."""
        return {"kind": self.kind, "json": self.tokenizer.to_str()}

    # -- using ------------------------------------------------------------------------------
    def __len__(self) -> int:
        """One past the largest id (a trained WordLevel vocabulary can skip an id when a special
        token also occurs in the text, so the count of tokens may be smaller)."""
        return max(self.tokenizer.get_vocab(with_added_tokens=True).values()) + 1

    @property
    def tokens(self) -> list[str]:
        """Token strings by id (the spec's ``vocab``)."""
        return [self.tokenizer.id_to_token(i) or "" for i in range(len(self))]

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        """One int64 id array per text (no special tokens added)."""
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [np.asarray(e.ids, dtype=np.int64) for e in encodings]

    def encode_words(self, words: Sequence[Sequence[str]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Pre-split words -> per sentence ``(ids, word_index)``: the word each token came
        from (for tagging: the first subword of a word carries its label)."""
        encodings = self.tokenizer.encode_batch([list(w) for w in words], is_pretokenized=True,
                                                add_special_tokens=False)
        out = []
        for e, sentence in zip(encodings, words, strict=True):
            word_ids = np.asarray([-1 if w is None else w for w in e.word_ids], dtype=np.int64)
            ids = np.asarray(e.ids, dtype=np.int64)
            missing = np.setdiff1d(np.arange(len(sentence)), word_ids)
            if len(missing):  # a word with no token at all (e.g. only stripped characters)
                ids, word_ids = _insert_unknown(ids, word_ids, missing, self.unk_id)
            out.append((ids, word_ids))
        return out

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=False)


def text_codec(vocab: Sequence[str] | None,
               extra: Mapping[str, Any]) -> Vocabulary | TextTokenizer | None:
    """The codec of a spec's tokens: the word or subword tokenizer that ``extra["tokenizer"]``
    carries, else the character :class:`~seqlstm.spec.Vocabulary` of ``vocab`` (None when the
    spec has neither)."""
    tokenizer = extra.get("tokenizer")
    if tokenizer and tokenizer.get("kind") != "char":
        return TextTokenizer.from_extra(dict(tokenizer))
    return Vocabulary(list(vocab)) if vocab else None


def _insert_unknown(ids: np.ndarray, word_ids: np.ndarray, missing: np.ndarray,
                    unk: int) -> tuple[np.ndarray, np.ndarray]:
    """Give every word index in ``missing`` one unknown token, in word order."""
    pairs = sorted([(int(w), k, int(i)) for k, (i, w) in enumerate(zip(ids, word_ids,
                                                                        strict=True))]
                   + [(int(w), -1, unk) for w in missing])
    return (np.asarray([p[2] for p in pairs], dtype=np.int64),
            np.asarray([p[0] for p in pairs], dtype=np.int64))


def unknown_share(ids: Sequence[np.ndarray], unk_id: int = 0) -> tuple[int, int]:
    """How many of all the tokens in ``ids`` are the unknown token, and the total."""
    total = sum(len(a) for a in ids)
    unknown = sum(int(np.count_nonzero(a == unk_id)) for a in ids)
    return unknown, total


def _json_position(text: str) -> str:
    """``:line:column`` of a JSON syntax error in ``text``, or '' when it parses."""
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        return f":{err.lineno}:{err.colno}"
    return ""
