"""Character vocabulary with vectorised encoding (numpy lookup table, no per-character loop)."""

from __future__ import annotations

import numpy as np

from seqlstm.errors import DataError

UNK = "\ufffd"  # id 0: characters the training split never showed
MAX_CODEPOINT = 0x10FFFF


def codepoints(text: str) -> np.ndarray:
    """Unicode code points of ``text`` as a uint32 array (one per character)."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


class Vocabulary:
    """Maps characters to ids; id 0 is reserved for :data:`UNK`."""

    def __init__(self, tokens: list[str]) -> None:
        if not tokens or tokens[0] != UNK:
            raise DataError(f"a vocabulary's first token must be the unknown token {UNK!r}")
        if any(len(t) != 1 for t in tokens):
            raise DataError("a character vocabulary holds single characters only")
        self.tokens = list(tokens)
        points = codepoints("".join(self.tokens[1:]))
        self._lookup = np.full(MAX_CODEPOINT + 1, -1, dtype=np.int32)
        self._lookup[points] = np.arange(1, len(self.tokens), dtype=np.int32)
        self._lookup[ord(UNK)] = 0
        self._strings = np.array(self.tokens)

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        """The vocabulary of the distinct characters in ``text``, sorted by code point."""
        chars = np.unique(codepoints(text))
        return cls([UNK] + [chr(c) for c in chars if c != ord(UNK)])

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def dtype(self) -> np.dtype:
        """The smallest unsigned dtype that holds every id."""
        return np.dtype(np.uint8 if len(self) <= 256 else np.uint16 if len(self) <= 65536
                        else np.uint32)

    def encode(self, text: str, unknown: str = "error") -> np.ndarray:
        """Ids of ``text``; characters outside the vocabulary raise (``error``) or map to 0
        (``unk``). The result has :attr:`dtype`."""
        ids = self._lookup[codepoints(text)]
        missing = ids < 0
        if missing.any():
            if unknown == "error":
                chars = sorted({text[i] for i in np.flatnonzero(missing)[:1000]})
                raise DataError(f"characters not in the vocabulary: {''.join(chars)!r}"
                                f" ({int(missing.sum())} occurrences)")
            ids[missing] = 0
        return ids.astype(self.dtype)

    def count_unknown(self, text: str) -> int:
        return int((self._lookup[codepoints(text)] < 0).sum())

    def decode(self, ids: np.ndarray | list[int]) -> str:
        return "".join(self._strings[np.asarray(ids, dtype=np.int64)])
