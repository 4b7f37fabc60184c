"""Tokenizers (char, word, BPE, Unigram, WordPiece, a tokenizer.json) and text classification."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from seqlstm.data import TextClassificationDataModule
from seqlstm.data.text import classification
from seqlstm.data.text.records import read_records
from seqlstm.data.text.tokenizing import build_tokenizer, tokenizer_from_extra
from seqlstm.errors import ConfigError, DataError
from tests.helpers.text_data import (
    reviews,
    write_ag_news_layout,
    write_imdb_layout,
    write_reviews,
)

pytest.importorskip("tokenizers", reason="word and subword tokenizers need seqlstm[text]")
TEXTS = [t for t, _ in reviews(40)]


@pytest.mark.parametrize("kind", ["char", "word", "bpe", "unigram", "wordpiece"])
def test_every_tokenizer_round_trips_through_plain_data(kind):
    tok = build_tokenizer(kind, TEXTS, vocab_size=300)
    extra = tok.as_extra()
    json.dumps(extra)  # plain data: a checkpoint loads it with weights_only=True
    again = tokenizer_from_extra(extra)
    ids = tok.encode_batch(["a great film , number 7"])[0]
    assert ids.dtype == np.int64 and len(ids) > 0
    assert np.array_equal(again.encode_batch(["a great film , number 7"])[0], ids)
    assert tok.tokens[0] in ("\ufffd", "[UNK]") and len(again) == len(tok)


def test_bpe_is_lossless_and_word_tokens_are_words():
    bpe = build_tokenizer("bpe", TEXTS, vocab_size=300)
    assert bpe.decode(bpe.encode_batch(["Zebras, unseen!"])[0]) == "Zebras, unseen!"
    word = build_tokenizer("word", TEXTS, vocab_size=300)
    ids = word.encode_batch(["a great zebra"])[0]
    assert word.decode(ids) == "a great [UNK]" and ids[-1] == 0


def test_word_tokenizer_honours_min_frequency_and_vocab_size():
    texts = ["red red red blue blue green"]
    assert build_tokenizer("word", texts, min_frequency=2).tokens == ["[UNK]", "red", "blue"]
    assert len(build_tokenizer("word", texts, vocab_size=2)) == 2


def test_a_tokenizer_json_file_is_used_and_a_bad_one_is_one_line(tmp_path):
    good = tmp_path / "tokenizer.json"
    good.write_text(build_tokenizer("wordpiece", TEXTS, vocab_size=200).tokenizer.to_str())
    assert build_tokenizer(str(good), []).kind == "file"
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": "1.0",\n "model": [}')
    with pytest.raises(DataError, match=r"bad\.json:2:12: not a Hugging Face tokenizer"):
        build_tokenizer(str(bad), [])
    with pytest.raises(DataError, match="not a Hugging Face tokenizer"):
        bad.write_text('{"vocab": {}}')
        build_tokenizer(str(bad), [])


def module(path, **kwargs) -> TextClassificationDataModule:
    kwargs = {"val_fraction": 0.25, "test_fraction": 0.25, "batch_size": 4, **kwargs}
    dm = TextClassificationDataModule(str(path), **kwargs)
    dm.setup("fit")
    return dm


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_tables_give_token_batches_with_lengths(tmp_path, fmt):
    dm = module(write_reviews(tmp_path / f"r.{fmt}", fmt=fmt))
    spec = dm.spec
    assert (spec.input_kind, spec.target_kind, spec.labels) == ("tokens", "class", ["neg", "pos"])
    assert spec.extra["class_counts"] == [12, 12]  # 48 texts, stratified 50/25/25
    assert spec.extra["coverage"]["train"]["unknown"] == 0
    assert spec.extra["coverage"]["val"]["unknown"] > 0  # "number 37": unseen numbers
    batch = next(iter(dm.train_dataloader()))
    assert batch["inputs"].dtype == torch.long and batch["inputs"].shape[0] == 4
    assert batch["inputs"].shape[1] == int(batch["lengths"].max())


def test_parquet_table(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    path = tmp_path / "r.parquet"
    pd.DataFrame(reviews(24), columns=["review", "y"]).to_parquet(path)
    dm = module(path, text_column="review", label_column="y")
    assert len(dm.splits["train"]) == 12


def test_max_length_cuts_the_stated_side(tmp_path):
    path = write_reviews(tmp_path / "r.csv")
    right = module(path, max_length=2, tokenizer="word")
    left = module(path, max_length=2, tokenizer="word", truncation="left")
    vocab = right.tokenizer.tokens
    first = right.splits["train"].inputs[0].tolist()
    last = left.splits["train"].inputs[0].tolist()
    assert right.splits["train"].lengths.max() == 2
    assert vocab[first[0]] in {t.split()[0] for t in TEXTS}
    assert vocab[last[0]] == "number"  # every text ends "number <i>"


def test_length_buckets_batch_similar_lengths(tmp_path):
    rows = [(" ".join(["word"] * (1 + i % 12)), "ab"[i % 2]) for i in range(96)]
    path = tmp_path / "len.csv"
    path.write_text("text,label\n" + "\n".join(f"{t},{lab}" for t, lab in rows))
    dm = module(path, batch_size=8, tokenizer="word")
    spread = [int(b["lengths"].max() - b["lengths"].min()) for b in dm.train_dataloader()]
    assert np.mean(spread) <= 3  # random batches of 8 would spread ~9 of 11


def test_imdb_folder_layout(tmp_path):
    root = write_imdb_layout(tmp_path / "aclImdb")
    dm = module(root / "train", test_path=str(root / "test"), labels=["neg", "pos"],
                tokenizer="bpe")
    assert dm.spec.labels == ["neg", "pos"]
    assert len(dm.splits["test"]) == 16  # unsup is left out by data.labels


def test_ag_news_layout(tmp_path):
    path = write_ag_news_layout(tmp_path / "train.csv")
    dm = module(path, header=False, label_column="0", text_column=["1", "2"])
    assert dm.spec.labels == ["1", "2", "3", "4"]
    records = read_records(path, ["1", "2"], "0", header=False)
    assert records.texts[0] == "world leaders meet 0 story 0 about world leaders meet"
    assert records.where[1] == f"{path}:2:2"


def test_bad_tables_name_file_line_and_column(tmp_path):
    path = write_reviews(tmp_path / "r.csv")
    with pytest.raises(DataError, match=r"r\.csv:1: no column 'sentiment'"):
        module(path, label_column="sentiment")
    empty = tmp_path / "e.csv"
    empty.write_text('text,label\n"fine",pos\n"  ",neg\n')
    with pytest.raises(DataError, match=r"e\.csv:3:1: empty text"):
        module(empty)
    ragged = tmp_path / "g.csv"
    ragged.write_text("text,label\nfine,pos\nok,neg,extra\n")
    with pytest.raises(DataError, match=r"g\.csv:3: 3 fields, the header has 2"):
        module(ragged)
    lines = tmp_path / "j.jsonl"
    lines.write_text('{"text": "fine", "label": "pos"}\n{"text": "ok" "label": 1}\n')
    with pytest.raises(DataError, match=r"j\.jsonl:2:15: not JSON"):
        module(lines)


def test_unseen_test_labels_are_an_error_and_predict_labels_are_reported(tmp_path,
                                                                         monkeypatch):
    path = write_reviews(tmp_path / "r.csv")
    test = tmp_path / "t.csv"
    test.write_text("text,label\ngreat,pos\nmeh,neutral\n")
    with pytest.raises(DataError, match=r"t\.csv:3:1: label 'neutral' is not among"):
        module(path, test_path=str(test))
    fitted = module(path).spec.extra
    dm = TextClassificationDataModule(str(path), fitted=fitted, predict_path=str(test))
    warnings: list[str] = []  # the module's own warning calls (log capture depends on what
    # earlier in-process runs did to logging)
    monkeypatch.setattr(classification.log, "warning",
                        lambda message, *args: warnings.append(message % args))
    dm.setup("predict")
    assert any("neutral" in w for w in warnings) and dm.predict_labels == ["pos", "neutral"]
    assert dm.splits["predict"].targets is None


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.truncation"):
        TextClassificationDataModule("x.csv", truncation="middle")
    with pytest.raises(ConfigError, match=r"data\.tokenizer"):
        module(write_reviews(tmp_path / "r.csv"), tokenizer="")


def test_train_then_predict_a_table_from_the_checkpoint_alone(compose_train, tmp_path):
    """seqlstm-train on a CSV with a BPE tokenizer; the checkpoint alone (loaded with
    weights_only=True) predicts labels with probabilities for new texts."""
    import lightning as L

    from seqlstm.cli.builders import build_datamodule
    from seqlstm.cli.train import train
    from seqlstm.tasks import load_task
    from tests.conftest import FAST_WITH_CALLBACKS

    path = write_reviews(tmp_path / "reviews.csv")
    cfg = compose_train("data=text_classification", f"data.path={path}", "data.tokenizer=bpe",
                        "data.vocab_size=300", "data.batch_size=8",
                        "model.encoder.hidden_size=8", "logger=[]", "~callbacks.lr_monitor",
                        *FAST_WITH_CALLBACKS)
    metrics = train(cfg)
    assert "val/f1_macro" in metrics
    path.unlink()
    task = load_task(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert task.spec.extra["tokenizer"]["kind"] == "bpe"
    new = tmp_path / "new.jsonl"
    new.write_text('{"text": "a great cast"}\n{"text": "boring and slow"}\n')
    data = build_datamodule(task.hparams.data, fitted=task.spec.extra, predict_path=str(new))
    outputs = L.Trainer(logger=False, enable_progress_bar=False).predict(task, datamodule=data)
    table = data.format_predictions(outputs)
    assert list(table.columns) == ["id", "text", "predicted", "prob_neg", "prob_pos"]
    assert table["text"].tolist() == ["a great cast", "boring and slow"]
    assert (table[["prob_neg", "prob_pos"]].sum(axis=1) - 1).abs().max() < 1e-5


def test_a_missing_tokenizers_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "tokenizers", None)
    with pytest.raises(ConfigError, match=r"pip install 'seqlstm\[text\]'"):
        build_tokenizer("bpe", TEXTS)
    assert build_tokenizer("char", TEXTS).kind == "char"  # the char path needs no tokenizers


def test_a_special_token_in_the_text_leaves_no_id_out_of_range():
    # tokenizers' WordLevel trainer skips an id when a special token also occurs as a word
    tok = build_tokenizer("word", ["a b <eos>", "a c <eos>"], special_tokens=["<eos>"],
                          word_split="whitespace")
    ids = np.concatenate(tok.encode_batch(["a b c <eos>"]))
    assert ids.max() < len(tok) and tok.tokens[ids[-1]] == "<eos>"
