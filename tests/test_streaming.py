"""Streaming a corpus: pieces cut anywhere give the same text, vocabulary and ids as reading it
whole; the cache is reused without reading the text again."""

from __future__ import annotations

import numpy as np
import pytest

import seqlstm.data.text.char as char_module
from seqlstm.data.text.char import SPLITS, CharDataModule, split_pieces
from seqlstm.data.text.corpus import iter_text
from seqlstm.errors import DataError
from seqlstm.spec import Vocabulary

TEXT = "".join(f"line {i}: h\u00e9llo w\u00f6rld \u20ac\U0001f600 {i * 7 % 13}\n"
               for i in range(300))


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 5, 64, 1 << 20])
def test_pieces_cut_anywhere_rebuild_the_text(tmp_path, chunk_bytes):
    path = tmp_path / "t.txt"
    path.write_text(TEXT, encoding="utf-8")
    assert "".join(iter_text(path, chunk_bytes)) == TEXT


@pytest.mark.parametrize("chunk_bytes", [1, 3, 7, 1 << 20])
def test_a_bad_byte_is_placed_whatever_the_chunk_size(tmp_path, chunk_bytes):
    path = tmp_path / "bad.txt"
    path.write_bytes("ab\ncd\u20ac\nxy".encode() + b"\xff\n")
    with pytest.raises(DataError, match=r"bad\.txt:3:3: not UTF-8 \(byte 0xff at offset 11\)"):
        list(iter_text(path, chunk_bytes))


def test_a_truncated_last_character_is_an_error(tmp_path):
    path = tmp_path / "cut.txt"
    path.write_bytes("ab\u20ac".encode()[:-1])
    with pytest.raises(DataError, match=r"cut\.txt:1:3: not UTF-8 \(byte 0xe2 at offset 2\)"):
        list(iter_text(path, 2))


def test_split_pieces_cuts_at_the_bounds():
    assert list(split_pieces(["abc", "defg", "h"], [0, 2, 5, 8])) == [
        (0, "ab"), (1, "c"), (1, "de"), (2, "fg"), (2, "h")]
    assert list(split_pieces(["abc", "defg", "h"], [0, 2, 8, 8])) == [
        (0, "ab"), (1, "c"), (1, "defg"), (1, "h")]


@pytest.mark.parametrize("text", [TEXT, TEXT.encode("ascii", "ignore").decode()],
                         ids=["unicode", "ascii"])
def test_streamed_encoding_matches_whole_text_encoding(text):
    vocab = Vocabulary.from_text(text[: len(text) // 2])
    assert Vocabulary.from_pieces([text[:100], text[100: len(text) // 2]]).tokens == vocab.tokens
    ids, unknown = vocab.encode_counting(text)
    assert np.array_equal(ids, vocab.encode(text, unknown="unk"))
    assert ids.dtype == vocab.dtype
    known = set(vocab.tokens)
    assert unknown == sum(char not in known for char in text)


@pytest.mark.parametrize("cached", [False, True], ids=["memory", "cache_dir"])
def test_data_module_ids_equal_the_whole_text_path(tmp_path, monkeypatch, cached):
    path = tmp_path / "t.txt"
    path.write_text(TEXT, encoding="utf-8")
    monkeypatch.setattr(char_module, "iter_corpus",
                        lambda files: (p for f in files for p in iter_text(f, 100)))
    cache_dir = str(tmp_path / "cache") if cached else None
    module = CharDataModule(path, seq_len=16, cache_dir=cache_dir)
    module.setup()
    bounds = np.cumsum([0] + [round(f * len(TEXT)) for f in module.split])
    bounds[-1] = len(TEXT)
    vocab = Vocabulary.from_text(TEXT[: bounds[1]])
    assert module.vocab.tokens == vocab.tokens
    for i, name in enumerate(SPLITS):
        assert np.array_equal(module.ids[name],
                              vocab.encode(TEXT[bounds[i]: bounds[i + 1]], unknown="unk"))
    if cached:  # a second module reuses the cache without reading the text
        monkeypatch.setattr(char_module, "iter_corpus", None)
        again = CharDataModule(path, seq_len=16, cache_dir=cache_dir)
        again.setup()
        assert again.vocab.tokens == vocab.tokens
        assert all(np.array_equal(again.ids[n], module.ids[n]) for n in SPLITS)
        assert not list((tmp_path / "cache").glob(".*.tmp"))
