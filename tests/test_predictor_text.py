"""The Trainer-free predictor on checkpoints whose data carries a word or subword tokenizer:
language-model prediction, streaming and generation, and classification of raw texts."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch

from seqlstm.errors import CheckpointError, DataError
from seqlstm.inference import Predictor
from seqlstm.tokens import TextTokenizer
from tests.helpers.checkpoints import tiny_text_classifier_checkpoint, tiny_word_lm_checkpoint

pytest.importorskip("tokenizers", reason="word and subword tokenizers need seqlstm[text]")


@pytest.mark.parametrize("tokenizer", ["word", "bpe"])
def test_word_and_subword_lms_predict_stream_and_generate(tmp_path, tokenizer):
    predictor = Predictor.from_checkpoint(tiny_word_lm_checkpoint(tmp_path, tokenizer))
    task, codec = predictor.task, predictor.vocab
    assert isinstance(codec, TextTokenizer) and len(codec) == task.spec.input_size
    text = "the cat saw 3 birds"
    ids = torch.as_tensor(codec.encode_batch([text])[0])
    assert len(ids) > (5 if tokenizer == "bpe" else 4) and int(ids.min()) > 0
    with torch.no_grad():
        logits, _ = task(ids[None])  # (1, T, V)
    assert torch.allclose(predictor.predict_next(text), logits[0, -1], atol=1e-6)
    assert torch.allclose(predictor.predict(text), logits[0], atol=1e-6)
    probs = predictor.next_token_probs(text)
    assert probs.shape == (len(codec),) and float(probs.sum()) == pytest.approx(1.0, abs=1e-5)

    stream = predictor.stream()
    pieces = text.split() if tokenizer == "word" else [int(i) for i in ids]
    steps = torch.stack([stream.step(piece) for piece in pieces])  # (T, V)
    assert torch.allclose(steps, logits[0], atol=1e-5)

    samples = predictor.generate("the cat", 6, num_samples=2, seed=3)
    assert samples == task.generate_text("the cat", 6, num_samples=2, seed=3)
    assert len(samples) == 2 and all(samples)
    if tokenizer == "word":  # every generated word is one of the vocabulary's
        assert {w for s in samples for w in s.split()} <= set(codec.tokens) - {"<eos>"}


def test_word_lm_predictor_maps_unknown_words_and_refuses_several_tokens_per_step(tmp_path):
    predictor = Predictor.from_checkpoint(tiny_word_lm_checkpoint(tmp_path, "word"))
    assert predictor.vocab.encode_batch(["the zebra"])[0][1] == 0  # the unknown token
    assert predictor.predict_next("the zebra").shape == (len(predictor.vocab),)
    with pytest.raises(DataError, match=r"expected one token, got 'the cat' \(2 tokens\)"):
        predictor.stream().step("the cat")
    with pytest.raises(CheckpointError, match="needs a Classifier"):
        predictor.classify("the cat")


def test_classify_raw_texts_as_seqlstm_predict_does(tmp_path):
    """Same labels and probabilities as the data module's predict path (tokenizer and
    ``max_length`` truncation from the checkpoint)."""
    from seqlstm.cli.builders import build_datamodule

    checkpoint = tiny_text_classifier_checkpoint(tmp_path, steps=20, max_length=4)
    predictor = Predictor.from_checkpoint(checkpoint)
    texts = ["a great film with fine acting", "i hated this boring story", "superb",
             "awful and slow , a waste of time"]
    new = tmp_path / "new.txt"
    new.write_text("\n".join(texts) + "\n", encoding="utf-8")
    task = predictor.task
    data = build_datamodule(task.hparams.data, fitted=task.spec.extra, predict_path=str(new))
    outputs = L.Trainer(logger=False, enable_progress_bar=False).predict(task, datamodule=data)
    table = data.format_predictions(outputs)

    labels, probs = predictor.classify(texts)
    assert probs.shape == (4, 2) and task.labels == ["neg", "pos"]
    assert labels == table["predicted"].tolist()
    expected = table[[f"prob_{label}" for label in task.labels]].to_numpy()
    np.testing.assert_allclose(probs.numpy(), expected, atol=1e-6)
    assert labels[:2] == ["pos", "neg"]  # 20 steps learn the two clear ones

    label, one = predictor.classify(texts[0])
    assert label == labels[0] and torch.allclose(one, probs[0])
    # max_length=4: only "a great film with" is read
    assert torch.allclose(predictor.classify("a great film with")[1], one, atol=1e-6)
    with pytest.raises(DataError, match="expected some text"):
        predictor.classify(["superb", ""])
