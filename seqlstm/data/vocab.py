"""Character vocabulary with vectorised encoding (numpy lookup table, no per-character loop)."""

from __future__ import annotations

from collections.abc import Iterable

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
        # ASCII text is encoded with bytes.translate (C speed): ASCII ids are all < 129
        ascii_ids = self._lookup[:128]
        self._ascii_table = bytes(np.maximum(ascii_ids, 0).tolist()) + bytes(128)

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        """The vocabulary of the distinct characters in ``text``, sorted by code point."""
        chars = np.unique(codepoints(text))
        return cls([UNK] + [chr(c) for c in chars if c != ord(UNK)])

    @classmethod
    def from_pieces(cls, pieces: Iterable[str]) -> Vocabulary:
        """:meth:`from_text` of the concatenated ``pieces``, reading one piece at a time."""
        seen = np.zeros(MAX_CODEPOINT + 1, dtype=bool)
        for piece in pieces:
            if piece.isascii():  # a sample, then only the bytes not seen yet (C speed)
                raw = piece.encode("ascii")
                seen[list(set(raw[:65536]))] = True
                rest = raw[65536:].translate(None, bytes(np.flatnonzero(seen[:128]).tolist()))
                seen[list(set(rest))] = True
            else:
                seen[codepoints(piece)] = True
        seen[ord(UNK)] = False
        return cls([UNK] + [chr(c) for c in np.flatnonzero(seen)])

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

    def encode_counting(self, text: str) -> tuple[np.ndarray, int]:
        """Ids of ``text`` with unseen characters as id 0, and how many there were.

        ASCII text (the common case) takes a fast path through ``bytes.translate``.
        """
        if text.isascii():
            mapped = text.encode("ascii").translate(self._ascii_table)  # unknown -> 0
            ids = np.frombuffer(mapped, dtype=np.uint8)
            return ids.astype(self.dtype, copy=False), mapped.count(0)
        ids = self._lookup[codepoints(text)]
        missing = ids < 0
        unknown = int(np.count_nonzero(missing))
        if unknown:
            ids[missing] = 0
        return ids.astype(self.dtype), unknown

    def count_unknown(self, text: str) -> int:
        return int((self._lookup[codepoints(text)] < 0).sum())

    def decode(self, ids: np.ndarray | list[int]) -> str:
        return "".join(self._strings[np.asarray(ids, dtype=np.int64)])
