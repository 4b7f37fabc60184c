"""Token tagging: CoNLL readers, subword-to-word alignment, span scores, per-word predictions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqlstm.data import TokenTaggingDataModule
from seqlstm.data.text.conll import read_tagged
from seqlstm.data.text.tagging import first_tokens, token_targets
from seqlstm.errors import DataError
from seqlstm.spec import IGNORE_INDEX
from seqlstm.tasks.spans import SpanScores, bio_spans, scores, span_counts
from tests.helpers.text_data import write_conll, write_conllu

pytest.importorskip("tokenizers", reason="word and subword tokenizers need seqlstm[text]")


def test_bio_spans_by_hand():
    tags = ["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC", "I-PER"]
    # an I- that does not continue its type starts a span (conlleval)
    assert bio_spans(tags) == {("PER", 0, 1), ("LOC", 3, 4), ("LOC", 5, 5), ("PER", 6, 6)}
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "O", "O", "B-LOC"], ["B-ORG", "B-PER"]]
    # gold spans: PER 0-1, LOC 3, ORG 0; predicted: PER 0, LOC 3, ORG 0, PER 1; correct: 2
    assert span_counts(pred, gold) == (2, 4, 3)
    result = scores(2, 4, 3)
    assert result["span_precision"] == 0.5 and result["span_recall"] == pytest.approx(2 / 3)
    assert result["span_f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))


def test_span_scores_agree_with_seqeval_when_installed():
    seqeval = pytest.importorskip("seqeval.metrics")
    rng = np.random.default_rng(0)
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    gold = [[labels[i] for i in rng.integers(0, 5, n)] for n in rng.integers(1, 12, 200)]
    pred = [[labels[i] for i in rng.integers(0, 5, len(g))] for g in gold]
    ours = scores(*span_counts(pred, gold))
    assert ours["span_f1"] == pytest.approx(seqeval.f1_score(gold, pred))
    assert ours["span_precision"] == pytest.approx(seqeval.precision_score(gold, pred))


def test_span_metric_skips_ignored_steps():
    metric = SpanScores(["O", "B-LOC", "I-LOC"])
    # two words "New York": tokens New | Yo ##rk; the second subword is not scored
    targets = torch.tensor([[1, 2, IGNORE_INDEX, IGNORE_INDEX]])
    preds = torch.tensor([[1, 2, 1, 0]])
    metric.update(preds, targets)
    assert metric.compute()["span_f1"] == 1.0


def test_first_subword_carries_the_word_label():
    word_ids = np.array([0, 1, 1, 1, 2, 3, 3])
    assert first_tokens(word_ids).tolist() == [0, 1, 4, 5]
    assert token_targets(word_ids, np.array([5, 6, 7, 8])).tolist() == [
        5, 6, IGNORE_INDEX, IGNORE_INDEX, 7, 8, IGNORE_INDEX]


def test_conll_and_conllu_readers(tmp_path):
    conll = read_tagged(write_conll(tmp_path / "train.conll"))
    assert conll.words[0] == ["Alice", "flew", "to", "Paris", "."]
    assert conll.tags[0] == ["B-PER", "O", "O", "B-LOC", "O"]
    assert conll.lines[0][0] == 3  # after -DOCSTART- and its blank line
    conllu = read_tagged(write_conllu(tmp_path / "train.conllu"))
    assert conllu.words[0][0] == "Alice" and conllu.tags[0][:2] == ["PROPN", "VERB"]
    lemmas = read_tagged(tmp_path / "train.conllu", tag_column=2)
    assert lemmas.tags[0][0] == "alice"


def test_a_conll_line_with_the_wrong_column_count_names_file_line_and_column(tmp_path):
    path = tmp_path / "bad.conll"
    path.write_text("Alice NNP B-NP B-PER\nwent VBD B-VP\n")
    with pytest.raises(DataError, match=r"bad\.conll:2:14: 3 columns, expected 4 \(as on line 1"):
        read_tagged(path)
    bad = tmp_path / "bad.conllu"
    bad.write_text("1\tAlice\talice\tPROPN\n")
    with pytest.raises(DataError, match=r"bad\.conllu:1:1: 4 tab-separated columns"):
        read_tagged(bad)


@pytest.mark.parametrize("tokenizer", ["word", "bpe", "char"])
def test_subword_batches_score_each_word_once(tmp_path, tokenizer):
    dm = TokenTaggingDataModule(str(write_conll(tmp_path / "t.conll")), tokenizer=tokenizer,
                                vocab_size=300, val_fraction=0.25, test_fraction=0.25,
                                batch_size=4)
    dm.setup("fit")
    assert dm.spec.labels == ["O", "B-LOC", "I-LOC", "B-PER"]
    data = dm.splits["train"]
    scored = (data.targets != IGNORE_INDEX).sum(1)
    words = torch.tensor([len(f) for f in dm.first["train"]])
    assert torch.equal(scored, words)  # one scored token per word, whatever the tokenizer
    if tokenizer != "word":
        assert bool((data.lengths > words).all())


def test_unseen_tags_in_a_test_file_name_the_line(tmp_path):
    test = tmp_path / "test.conll"
    test.write_text("Alice NNP B-NP B-PER\nOslo NNP I-NP B-GPE\n")
    dm = TokenTaggingDataModule(str(write_conll(tmp_path / "t.conll")), test_path=str(test),
                                val_fraction=0.25)
    with pytest.raises(DataError, match=r"test\.conll:2: tag 'B-GPE' is not among"):
        dm.setup("fit")


def test_train_reports_span_f1_and_predicts_per_word_in_conll_form(compose_train, tmp_path):
    import pandas as pd

    from seqlstm.cli.predict import predict
    from seqlstm.cli.train import train
    from tests.conftest import FAST_WITH_CALLBACKS

    path = write_conll(tmp_path / "train.conll", count=40)
    cfg = compose_train("data=token_tagging", f"data.path={path}", "data.tokenizer=wordpiece",
                        "data.vocab_size=120", "data.batch_size=8", "data.val_fraction=0.25",
                        "model.encoder.hidden_size=8", "logger=[]", "~callbacks.lr_monitor",
                        *FAST_WITH_CALLBACKS)
    metrics = train(cfg)
    assert {"val/span_f1", "val/span_precision", "val/acc"} <= set(metrics)
    checkpoint = tmp_path / "run" / "checkpoints" / "last.ckpt"
    new = tmp_path / "new.txt"
    new.write_text("Carol\nflew\nto\nSan\nFrancisco\n\nBob\nwent\n")  # tokens only
    out = tmp_path / "pred"
    table, written = predict(compose_train(f"ckpt_path={checkpoint}", f"data_path={new}",
                                           f"output_dir={out}", config_name="predict"))
    assert written == [out / "predictions.csv", out / "predictions.conll"]
    assert table["token"].tolist() == ["Carol", "flew", "to", "San", "Francisco", "Bob", "went"]
    assert table["sentence"].tolist() == [0] * 5 + [1] * 2
    assert table["word"].tolist() == [0, 1, 2, 3, 4, 0, 1]
    assert set(table["predicted"]) <= {"O", "B-LOC", "I-LOC", "B-PER"}
    probs = table[[c for c in table.columns if c.startswith("prob_")]]
    assert (probs.sum(axis=1) - 1).abs().max() < 1e-5
    assert pd.read_csv(out / "predictions.csv")["predicted"].tolist() == table["predicted"].tolist()
    # CoNLL form: "word predicted" per line, a blank line between sentences; it reads back
    lines = (out / "predictions.conll").read_text().split("\n")
    assert lines[5] == "" and lines[:5] == [f"{w} {p}" for w, p in zip(
        table["token"][:5], table["predicted"][:5], strict=True)]
    back = read_tagged(out / "predictions.conll")
    assert back.words == [["Carol", "flew", "to", "San", "Francisco"], ["Bob", "went"]]
    assert [t for s in back.tags for t in s] == table["predicted"].tolist()

    tagged = write_conll(tmp_path / "tagged.conll", count=3, docstart=False)  # gold tags kept
    only = tmp_path / "only"
    table, written = predict(compose_train(f"ckpt_path={checkpoint}", f"data_path={tagged}",
                                           f"output_dir={only}", "format=conll",
                                           config_name="predict"))
    assert written == [only / "predictions.conll"] and not (only / "predictions.csv").exists()
    gold = read_tagged(tagged)
    rows = [line.split() for line in (only / "predictions.conll").read_text().splitlines()
            if line]
    assert [r[1] for r in rows] == [t for s in gold.tags for t in s] == table["tag"].tolist()
    assert [r[2] for r in rows] == table["predicted"].tolist()


def test_predict_refuses_an_unknown_output_format(compose_train, tmp_path):
    from seqlstm.cli.predict import predict
    from seqlstm.errors import ConfigError

    cfg = compose_train(f"ckpt_path={tmp_path / 'x.ckpt'}", "format=xml", config_name="predict")
    with pytest.raises(ConfigError, match=r"config key 'format' must be one of \['auto', 'csv', "
                       r"'conll'\], got 'xml'"):
        predict(cfg)
