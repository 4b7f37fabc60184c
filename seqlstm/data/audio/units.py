"""The output units of transcription: the transcripts' characters, or subword tokens.

``data.tokenizer`` picks them. ``char`` (the default) keeps one unit per character: the
training transcripts' characters, or the string ``data.units``. ``word``, ``bpe``, ``unigram``
and ``wordpiece`` train a :class:`~seqlstm.tokens.TextTokenizer` of at most
``data.vocab_size`` tokens on the training transcripts alone; any other value is the path of a
``tokenizer.json``. Unit strings by id go to ``spec.extra["labels"]`` and a tokenizer to
``spec.extra["tokenizer"]`` as its JSON string (plain data: ``weights_only`` loading), so the
task decodes unit ids back to text without the data module.

A transcript the units cannot encode (a character outside ``char`` units, or one a tokenizer
can only map to its unknown token) is one :class:`DataError` naming the manifest row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from seqlstm.data.audio.layouts import Clip
from seqlstm.errors import ConfigError, DataError
from seqlstm.tokens import KINDS, TextTokenizer


class TranscriptUnits:
    """Transcripts <-> unit ids: characters (``tokenizer`` None) or a trained tokenizer."""

    def __init__(self, labels: Sequence[str], tokenizer: TextTokenizer | None = None) -> None:
        self.labels, self.tokenizer = list(labels), tokenizer
        self.ids = {unit: i for i, unit in enumerate(self.labels)}

    @classmethod
    def fit(cls, choice: str, transcripts: Sequence[str], units: str | None = None,
            vocab_size: int = 300) -> TranscriptUnits:
        """The units ``data.tokenizer`` names, fitted on the training ``transcripts``."""
        if not isinstance(choice, str) or not choice:
            raise ConfigError("data.tokenizer", f"char, one of {list(KINDS)} or a "
                              "tokenizer.json path", choice)
        if choice == "char":
            if units is not None:
                return cls(list(dict.fromkeys(units)))
            return cls(sorted({ch for text in transcripts for ch in text}))
        if units is not None:
            raise ConfigError("data.units", f"null with data.tokenizer={choice} (a string of "
                              "characters is the char units)", units)
        if choice in KINDS:
            if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) \
                    or vocab_size < 2:
                raise ConfigError("data.vocab_size", "an integer >= 2", vocab_size)
            tokenizer = TextTokenizer.train(choice, transcripts, vocab_size)
        else:
            tokenizer = TextTokenizer.from_file(choice)
        return cls(tokenizer.tokens, tokenizer)

    @classmethod
    def from_fitted(cls, fitted: Mapping[str, Any]) -> TranscriptUnits:
        """The units a checkpoint's ``spec.extra`` carries (no ``tokenizer``: characters)."""
        carried = fitted.get("tokenizer")
        tokenizer = TextTokenizer.from_extra(dict(carried)) if carried else None
        return cls(fitted["labels"], tokenizer)

    def as_extra(self) -> dict[str, Any]:
        """``labels`` (and ``tokenizer``) for ``spec.extra``."""
        extra: dict[str, Any] = {"labels": list(self.labels)}
        if self.tokenizer is not None:
            extra["tokenizer"] = self.tokenizer.as_extra()
        return extra

    @property
    def kind(self) -> str:
        return "char" if self.tokenizer is None else self.tokenizer.kind

    def encode(self, clips: Sequence[Clip]) -> list[np.ndarray]:
        """The unit ids ``(S_i,)`` of every clip's transcript."""
        if self.tokenizer is None:
            return [self._encode_chars(clip) for clip in clips]
        texts = [clip.label or "" for clip in clips]
        encodings = self.tokenizer.tokenizer.encode_batch(texts, add_special_tokens=False)
        rows = []
        for clip, text, encoding in zip(clips, texts, encodings, strict=True):
            ids = np.asarray(encoding.ids, dtype=np.int64)
            unknown = [text[start:stop] for unit, (start, stop)
                       in zip(encoding.ids, encoding.offsets, strict=True)
                       if unit == self.tokenizer.unk_id]
            if unknown or (text.strip() and not len(ids)):
                raise DataError(f"{clip.where}: transcript {text!r} has symbols "
                                f"{' '.join(unknown)!r} that the {self.kind} output units "
                                f"cannot encode (they give only the unknown token)")
            rows.append(ids)
        return rows

    def _encode_chars(self, clip: Clip) -> np.ndarray:
        outside = sorted({ch for ch in clip.label if ch not in self.ids})
        if outside:
            raise DataError(f"{clip.where}: transcript {clip.label!r} has symbols "
                            f"{''.join(outside)!r} outside the output units "
                            f"{''.join(self.labels)!r}")
        return np.array([self.ids[ch] for ch in clip.label], dtype=np.int64)

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """Unit ids -> text."""
        if self.tokenizer is not None:
            return self.tokenizer.decode(ids)
        return "".join(self.labels[int(i)] for i in ids)
