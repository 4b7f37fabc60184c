"""The language model: loss, metrics, generation, and learning a small text."""

from __future__ import annotations

import math

import pytest
import torch

from seqlstm.cli.train import train
from seqlstm.errors import ConfigError, DataError
from seqlstm.spec import UNK, DataSpec
from seqlstm.tasks import LanguageModel, build_task

VOCAB = [UNK, *"abcdefgh"]


def make_model(**encoder) -> LanguageModel:
    torch.manual_seed(0)
    spec = DataSpec("tokens", "next_token", len(VOCAB), len(VOCAB), vocab=VOCAB)
    return build_task({"encoder": {"hidden_size": 16, **encoder}}, spec)


def test_untrained_loss_is_near_uniform_and_metrics_agree():
    model = make_model()
    batch = {"inputs": torch.randint(0, 9, (4, 12)), "targets": torch.randint(0, 9, (4, 12))}
    logits, _ = model(batch["inputs"])
    loss = model.loss(logits, batch)
    assert abs(loss.item() - math.log(9)) < 0.3
    metrics = model.build_metrics("val")
    model.update_metrics(metrics, logits, batch, loss)
    values = metrics.compute()
    assert values["ppl"].item() == pytest.approx(math.exp(loss.item()), rel=1e-5)
    assert values["bpc"].item() == pytest.approx(loss.item() / math.log(2), rel=1e-5)


def test_ignored_targets_do_not_count():
    model = make_model()
    inputs = torch.randint(0, 9, (2, 6))
    targets = torch.randint(0, 9, (2, 6))
    masked = targets.clone()
    masked[:, :3] = -100
    logits, _ = model(inputs)
    expected = torch.nn.functional.cross_entropy(logits[:, 3:].flatten(0, 1),
                                                 targets[:, 3:].flatten())
    assert model.loss(logits, {"targets": masked}).item() == pytest.approx(expected.item())
    assert model.batch_weight({"targets": masked}) == 6


def test_generation_carries_state_and_matches_rerunning_the_prefix():
    model = make_model(num_layers=2).eval()
    prompt = torch.tensor([[1, 2, 3]])
    out = model.generate(prompt, 5, top_k=1)  # greedy
    sequence = prompt
    for _ in range(5):  # the slow way: re-run the whole prefix for each token
        logits, _ = model(sequence)
        sequence = torch.cat([sequence, logits[:, -1].argmax(-1, keepdim=True)], 1)
    assert torch.equal(out, sequence[:, 3:])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"temperature": 0.0}, ConfigError, "'temperature' must be a number > 0, got 0.0"),
        ({"temperature": -1.0}, ConfigError, "'temperature' must be a number > 0, got -1.0"),
        ({"top_p": 1.5}, ConfigError, r"'top_p' must be a number in \(0, 1\]"),
        ({"top_k": 0}, ConfigError, "'top_k' must be an integer >= 1"),
    ],
)
def test_bad_sampling_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        make_model().generate_text("ab", 3, **kwargs)


def test_prompt_outside_the_vocabulary_is_named():
    with pytest.raises(DataError, match=r"prompt: characters not in the vocabulary: 'xy'"):
        make_model().generate_text("axy", 3)


def test_tied_weights_share_the_embedding_matrix():
    spec = DataSpec("tokens", "next_token", len(VOCAB), len(VOCAB), vocab=VOCAB)
    model = build_task({"encoder": {"hidden_size": 16}, "embedding_dim": 8,
                        "task_options": {"next_token": {"tie_weights": True}}}, spec)
    assert model.head.embedding.weight is model.embedding.weight
    assert model(torch.randint(0, 9, (2, 4)))[0].shape == (2, 4, 9)


def test_a_tied_head_starts_near_uniform():
    # a word-LM-sized tied model: the shared matrix is drawn from U(-0.1, 0.1) as in
    # pytorch/examples, so the untrained loss is log(V); torch's N(0, 1) rows (norm ~ sqrt(200))
    # would start it far above
    torch.manual_seed(0)
    words = [UNK, *(f"w{i}" for i in range(999))]
    spec = DataSpec("tokens", "next_token", len(words), len(words), vocab=words)
    model = build_task({"encoder": {"hidden_size": 200, "output_dropout": 0.0},
                        "embedding_dim": 200,
                        "task_options": {"next_token": {"tie_weights": True}}}, spec)
    assert model.embedding.weight.abs().max() <= 0.1
    assert model.embedding.weight.std().item() == pytest.approx(0.1 / math.sqrt(3), rel=0.02)
    batch = {"inputs": torch.randint(0, 1000, (8, 35)), "targets": torch.randint(0, 1000, (8, 35))}
    model.eval()
    loss = model.loss(model(batch["inputs"])[0], batch).item()
    assert abs(loss - math.log(1000)) < 0.05
    with torch.no_grad():
        torch.nn.init.normal_(model.embedding.weight)  # torch's default, for contrast
        normal_init = model.loss(model(batch["inputs"])[0], batch).item()
    assert normal_init > math.log(1000) + 1.0


@pytest.mark.slow
@pytest.mark.parametrize("model", ["lstm", "gru", "rnn", "stacked_lstm", "stacked_gru"])
def test_every_model_config_overfits_a_small_text(model, compose_train, small_text):
    cfg = compose_train(f"model={model}", "debug=overfit", f"data.path={small_text}",
                        "data.seq_len=32", "data.batch_size=16", "model.encoder.hidden_size=64",
                        "model.optimizer.lr=0.01", "trainer.max_epochs=40", "logger=[]",
                        "callbacks=none", "trainer.enable_progress_bar=false")
    metrics = train(cfg)
    uniform = math.log(len(set(small_text.read_text())) + 1)
    # one batch seen 40 times is memorised: every model here ends at 0.04-0.11 nats/char
    assert metrics["train/loss_epoch"] < 0.05 * uniform
