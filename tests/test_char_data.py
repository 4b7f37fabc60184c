"""Vocabulary, text reading, splits and windows of the character data module."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqlstm.data import CharDataModule, Vocabulary
from seqlstm.data.download import download, sha256_of
from seqlstm.data.text.windows import CoveringWindows, TokenWindows
from seqlstm.errors import ConfigError, DataError
from seqlstm.spec import IGNORE_INDEX, UNK


def test_vocabulary_round_trip_and_compact_dtype():
    vocab = Vocabulary.from_text("hello, wörld")
    assert vocab.tokens[0] == UNK and vocab.tokens[1:] == sorted(set("hello, wörld"))
    ids = vocab.encode("world")
    assert ids.dtype == np.uint8
    assert vocab.decode(ids) == "world"


def test_vocabulary_uses_uint16_beyond_256_symbols():
    text = "".join(chr(0x4E00 + i) for i in range(300))
    vocab = Vocabulary.from_text(text)
    assert vocab.encode(text).dtype == np.uint16 and len(vocab) == 301


def test_unknown_characters_raise_or_map_to_unk():
    vocab = Vocabulary.from_text("abc")
    message = r"characters not in the vocabulary: 'xz' \(3 occurrences\)"
    with pytest.raises(DataError, match=message):
        vocab.encode("axzx")
    assert vocab.encode("axb", unknown="unk").tolist() == [1, 0, 2]


def make_module(path, **kwargs):
    module = CharDataModule(path, **{"seq_len": 8, "batch_size": 4, **kwargs})
    module.setup("fit")
    return module


def test_splits_are_positional_and_disjoint(small_text):
    text = small_text.read_text()
    module = make_module(small_text)
    sizes = {name: len(ids) for name, ids in module.ids.items()}
    assert sum(sizes.values()) == len(text)
    assert sizes["train"] == round(0.9 * len(text))
    vocab = module.vocab
    assert vocab.decode(module.ids["train"]) == text[: sizes["train"]]
    assert vocab.decode(module.ids["val"]) == text[sizes["train"] : sizes["train"] + sizes["val"]]


def test_vocabulary_comes_from_the_training_split_only(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("ab" * 500 + "Z" * 200)  # Z only appears in val/test
    module = make_module(path, split=(0.8, 0.1, 0.1))
    assert "Z" not in module.vocab.tokens
    assert (module.ids["val"] == 0).sum() > 0  # scored as the unknown token


def test_folder_and_list_inputs(tmp_path, small_text):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "b.txt").write_text("b" * 300)
    (folder / "a.txt").write_text("a" * 300)
    (folder / "skip.md").write_text("not taken")
    module = make_module(folder, split=(0.5, 0.25, 0.25))
    assert module.vocab.decode(module.ids["train"]) == "a" * 300  # sorted by name
    both = make_module([folder / "a.txt", small_text])
    assert len(both.ids["train"]) + len(both.ids["val"]) + len(both.ids["test"]) == \
        300 + len(small_text.read_text())


def test_cache_dir_writes_memory_mapped_arrays(small_text, tmp_path):
    module = make_module(small_text, cache_dir=str(tmp_path / "cache"))
    assert isinstance(module.ids["train"], np.memmap)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 3
    again = make_module(small_text, cache_dir=str(tmp_path / "cache"))
    assert np.array_equal(again.ids["val"], module.ids["val"])


def test_token_windows_hold_inputs_and_next_targets():
    ids = np.arange(20, dtype=np.uint8)
    item = TokenWindows(ids, 5)[3]
    assert item["inputs"].tolist() == [3, 4, 5, 6, 7]
    assert item["targets"].tolist() == [4, 5, 6, 7, 8]
    assert len(TokenWindows(ids, 5)) == 15


def test_covering_windows_score_every_target_exactly_once():
    ids = np.arange(23, dtype=np.uint8)
    windows = CoveringWindows(ids, 5)
    scored = []
    for index in range(len(windows)):
        item = windows[index]
        assert torch.equal(item["inputs"] + 1, torch.where(
            item["targets"] == IGNORE_INDEX, item["inputs"] + 1, item["targets"]))
        scored += item["targets"][item["targets"] != IGNORE_INDEX].tolist()
    assert scored == list(range(1, 23))


def test_train_loader_draws_random_windows_per_epoch(small_text):
    module = make_module(small_text)
    torch.manual_seed(0)
    batch = next(iter(module.train_dataloader()))
    assert batch["inputs"].shape == (4, 8) and batch["inputs"].dtype == torch.int64
    assert torch.equal(batch["inputs"][:, 1:], batch["targets"][:, :-1])
    expected = len(module.ids["train"]) // 8
    assert len(module.train_dataloader().sampler) == expected


def test_spec_describes_tokens_and_vocabulary(small_text):
    spec = make_module(small_text).spec
    assert spec.input_kind == "tokens" and spec.target_kind == "next_token"
    assert spec.input_size == spec.output_size == len(spec.vocab)


def test_given_vocabulary_is_used_as_is(small_text):
    tokens = [UNK, *"abcdefghijklmnopqrstuvwxyz .\n"]
    module = make_module(small_text, vocab=tokens)
    assert module.vocab.tokens == tokens


@pytest.mark.parametrize(
    ("setup_file", "message"),
    [
        (lambda p: None, r"data.path: no such file or folder: .*missing.txt"),
        (lambda p: p.write_text(""), r"missing.txt: the file is empty"),
        (lambda p: p.write_text("short"), r"the train split has 4 characters, fewer than one "
                                          r"window \(data.seq_len \+ 1 = 9\)"),
    ],
)
def test_bad_text_files_get_one_clear_error(tmp_path, setup_file, message):
    path = tmp_path / "missing.txt"
    setup_file(path)
    with pytest.raises(DataError, match=message):
        make_module(path)


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(DataError, match=r"has no file matching '\*\*/\*.txt'"):
        make_module(tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [({"seq_len": 0}, "data.seq_len"), ({"batch_size": -1}, "data.batch_size"),
     ({"split": (0.5, 0.5)}, "data.split"), ({"split": (0.9, 0.2, 0.1)}, "data.split"),
     ({"split": (0.9, 0.0, 0.1)}, "data.split")],
)
def test_bad_data_config_names_the_key(small_text, kwargs, key):
    with pytest.raises(ConfigError, match=rf"config key '{key}' must be"):
        CharDataModule(small_text, **kwargs)


def test_download_verifies_checksum_and_leaves_no_partial_file(tmp_path):
    source = tmp_path / "source.txt"
    source.write_text("to be or not to be\n")
    dest = tmp_path / "data" / "corpus.txt"
    good = sha256_of(source)
    assert download(source.as_uri(), dest, good).read_text() == "to be or not to be\n"
    other = tmp_path / "data" / "other.txt"
    with pytest.raises(DataError, match="does not match"):
        download(source.as_uri(), other, "0" * 64)
    assert not other.exists() and not list(other.parent.glob(".other*"))


def test_download_offline_names_the_url_and_the_place_for_the_file(tmp_path):
    dest = tmp_path / "tiny.txt"
    with pytest.raises(DataError, match=r"could not download file:///nowhere/x.txt .*place the "
                                        r"file at .*tiny.txt"):
        download("file:///nowhere/x.txt", dest)
    assert not dest.exists()


def test_tinyshakespeare_checksum_matches_the_shared_copy(shakespeare, compose_train):
    cfg = compose_train("data=tinyshakespeare")
    assert sha256_of(shakespeare) == cfg.data.sha256
