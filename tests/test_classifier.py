"""Classifier and Tagger: pooling, packing, class weights, metrics, predictions, refusals."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqlstm.errors import ConfigError
from seqlstm.nn import EncoderConfig, RecurrentEncoder, SequencePool, last_step
from seqlstm.spec import DataSpec
from seqlstm.tasks import TASKS, Classifier, LanguageModel, Tagger, build_task
from seqlstm.tasks.classifier import resolve_class_weights

LENGTHS = torch.tensor([7, 3, 5, 1])


def padded_batch(width: int = 3, seed: int = 0) -> torch.Tensor:
    """``(4, 7, width)`` inputs whose padding past ``LENGTHS`` is garbage, not zeros."""
    return torch.randn(4, 7, width, generator=torch.Generator().manual_seed(seed))


def encoder(cell: str, bidirectional: bool, layers: int = 1) -> RecurrentEncoder:
    torch.manual_seed(0)
    return RecurrentEncoder(3, EncoderConfig(cell=cell, hidden_size=5, num_layers=layers,
                                             bidirectional=bidirectional)).eval()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_batch_matches_each_sequence_alone(cell, bidirectional):
    enc, x = encoder(cell, bidirectional, layers=2), padded_batch()
    with torch.no_grad():
        packed, _ = enc(x, lengths=LENGTHS)  # (B, T, D * H)
        for i, n in enumerate(LENGTHS.tolist()):
            alone, _ = enc(x[i : i + 1, :n])
            torch.testing.assert_close(packed[i, :n], alone[0], atol=1e-6, rtol=1e-5)
            assert packed[i, n:].abs().sum() == 0


def test_packed_and_padded_runs_agree_at_valid_steps():
    """A forward-only encoder reads padding only after the valid steps, so padded (no
    lengths) and packed runs give the same outputs there."""
    enc, x = encoder("lstm", False), padded_batch()
    with torch.no_grad():
        packed, _ = enc(x, lengths=LENGTHS)
        padded, _ = enc(x)
    for i, n in enumerate(LENGTHS.tolist()):
        torch.testing.assert_close(packed[i, :n], padded[i, :n], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_last_step_is_the_true_last_step(bidirectional):
    enc, x = encoder("lstm", bidirectional), padded_batch()
    with torch.no_grad():
        out, (h, _) = enc(x, lengths=LENGTHS)
        pooled = last_step(out, LENGTHS, 2 if bidirectional else 1)  # (B, D * H)
    # the final hidden state of each direction is exactly what "last" pooling must return
    expected = torch.cat(list(h), dim=-1) if bidirectional else h[0]
    torch.testing.assert_close(pooled, expected)
    assert not torch.allclose(pooled[1], out[1, -1])  # out[:, -1] is padding for short rows
    if bidirectional:
        torch.testing.assert_close(pooled[:, 5:], out[:, 0, 5:])  # backward ends at t=0


def test_mean_and_max_pool_only_valid_steps():
    out = torch.arange(12.0).view(2, 3, 2)  # (B=2, T=3, F=2)
    lengths = torch.tensor([3, 1])
    torch.testing.assert_close(SequencePool("mean")(out, lengths),
                               torch.tensor([[2.0, 3.0], [6.0, 7.0]]))
    torch.testing.assert_close(SequencePool("max")(out, lengths),
                               torch.tensor([[4.0, 5.0], [6.0, 7.0]]))
    torch.testing.assert_close(SequencePool("last")(out, None), out[:, -1])


def spec(target: str = "class", classes: int = 3, **extra) -> DataSpec:
    return DataSpec(input_kind="real", target_kind=target, input_size=3, output_size=classes,
                    variable_length=True, labels=["a", "b", "c"][:classes], extra=extra)


def model_cfg(**options) -> dict:
    return {"_target_": "seqlstm.tasks.SequenceTask",
            "encoder": {"cell": "lstm", "hidden_size": 5, "bidirectional": True},
            "task_options": {"class": options, "step_class": options}}


def test_registry_and_shapes():
    assert TASKS["class"] is Classifier and TASKS["step_class"] is Tagger
    torch.manual_seed(0)
    clf = build_task(model_cfg(pooling="mean"), spec()).eval()
    tag = build_task(model_cfg(), spec("step_class")).eval()
    assert isinstance(clf, Classifier) and isinstance(tag, Tagger)
    x = padded_batch()
    logits, _ = clf(x, lengths=LENGTHS)
    tags, _ = tag(x, lengths=LENGTHS)
    assert logits.shape == (4, 3) and tags.shape == (4, 7, 3)
    # padding does not leak into a sequence's class: garbage past the end changes nothing
    noisy = x.clone()
    noisy[1, 3:] += 100
    torch.testing.assert_close(clf(noisy, lengths=LENGTHS)[0], logits)


def test_class_weights_in_the_loss():
    weights = resolve_class_weights("balanced", 2, [30, 10], "k")
    torch.testing.assert_close(weights, torch.tensor([40 / 60, 40 / 20]))
    torch.manual_seed(0)
    clf = build_task(model_cfg(class_weights=[1.0, 3.0]), spec(classes=2))
    outputs = torch.randn(4, 2)
    targets = torch.tensor([0, 1, 1, 0])
    expected = nn.functional.cross_entropy(outputs, targets, weight=torch.tensor([1.0, 3.0]))
    torch.testing.assert_close(clf.loss(outputs, {"targets": targets}), expected)
    balanced = build_task(model_cfg(class_weights="balanced"), spec(classes=2,
                                                                     class_counts=[30, 10]))
    torch.testing.assert_close(balanced.class_weights, weights)


@pytest.mark.parametrize(("options", "target", "message"), [
    ({"pack": "yes"}, "class", "config key 'model.task_options.class.pack' must be true, "
                               "false or null (pack only a bidirectional encoder), got 'yes'"),
    ({"pooling": "first"}, "class", "config key 'model.task_options.class.pooling' must be one "
                                    "of ['last', 'mean', 'max'], got 'first'"),
    ({"class_weights": [1, 2]}, "class", "config key 'model.task_options.class.class_weights' "
                                         "must be 3 positive numbers, 'balanced' or null, got "
                                         "[1, 2]"),
    ({"class_weights": "balanced"}, "step_class",
     "config key 'model.task_options.step_class.class_weights' must be a list of weights or "
     "null: 'balanced' needs the data's class_counts with every class present, got 'balanced'"),
])
def test_bad_options(options, target, message):
    cfg = model_cfg(**options)
    if target == "step_class":
        cfg["task_options"]["step_class"] = {"class_weights": "balanced"}
    with pytest.raises(ConfigError) as err:
        build_task(cfg, spec(target))
    assert str(err.value) == message


def test_tagger_ignores_padding_and_keeps_the_confusion_matrix():
    torch.manual_seed(0)
    tag = build_task(model_cfg(), spec("step_class", classes=2))
    outputs = torch.tensor([[[2.0, 0.0], [0.0, 2.0], [5.0, 0.0]],
                            [[0.0, 2.0], [0.0, 2.0], [0.0, 2.0]]])  # (B=2, T=3, C=2)
    batch = {"targets": torch.tensor([[0, 0, -100], [1, 1, -100]])}
    loss = tag.loss(outputs, batch)
    expected = nn.functional.cross_entropy(outputs[:, :2].reshape(-1, 2),
                                           batch["targets"][:, :2].reshape(-1))
    torch.testing.assert_close(loss, expected)
    assert tag.batch_weight(batch) == 4
    tag.update_metrics(tag.val_metrics, outputs, batch, loss)
    assert tag.val_metrics["acc"].compute() == pytest.approx(0.75)
    tag.on_validation_epoch_end()
    assert tag.confusion_matrices["val"].tolist() == [[1, 1], [0, 2]]
    assert not tag.val_confusion.update_called  # reset for the next epoch


# (target, predicted) over two batches; the tagger's padding (-100) must not count
F1_BATCHES = [
    ([[0, 0, 1, -100], [2, 1, 1, 0]], [[0, 1, 1, 2], [2, 2, 1, 0]]),
    ([[2, 2, -100, -100], [0, 1, 2, -100]], [[0, 2, 1, 1], [0, 0, 2, 1]]),
]
# by hand over the 12 scored pairs: class 0 has TP 3, FP 2, FN 1 -> F1 6/9; class 1 TP 2,
# FP 1, FN 2 -> 4/7; class 2 TP 3, FP 1, FN 1 -> 6/8. Macro F1 is their mean: 167/252, not
# the mean of the two batches' own macro F1s (0.71 and 0.43), nor the accuracy 8/12.
MACRO_F1 = (6 / 9 + 4 / 7 + 6 / 8) / 3


@pytest.mark.parametrize("target", ["class", "step_class"])
def test_macro_f1_over_an_epoch_equals_the_hand_computation(target):
    torch.manual_seed(0)
    task = build_task(model_cfg(), spec(target))
    for targets, predicted in F1_BATCHES:
        targets, predicted = torch.tensor(targets), torch.tensor(predicted)
        if target == "class":  # one class per sequence: the scored pairs as rows
            valid = targets != -100
            targets, predicted = targets[valid], predicted[valid]
        outputs = nn.functional.one_hot(predicted, 3).float() * 4  # logits (..., C)
        batch = {"targets": targets}
        task.update_metrics(task.val_metrics, outputs, batch, task.loss(outputs, batch))
    values = task.val_metrics.compute()
    assert float(values["f1_macro"]) == pytest.approx(MACRO_F1, abs=1e-6)
    assert float(values["acc"]) == pytest.approx(8 / 12, abs=1e-6)


def test_predict_step_returns_classes_and_probabilities():
    torch.manual_seed(0)
    clf = build_task(model_cfg(), spec()).eval()
    out = clf.predict_step({"inputs": padded_batch(), "lengths": LENGTHS}, 0)
    assert set(out) == {"class", "probs", "lengths"}
    assert out["class"].shape == (4,) and out["probs"].shape == (4, 3)
    with torch.no_grad():
        logits, _ = clf(padded_batch(), lengths=LENGTHS)  # (B, C)
    torch.testing.assert_close(out["probs"], logits.softmax(-1))
    assert out["class"].tolist() == logits.argmax(-1).tolist()
    assert clf.labels == ["a", "b", "c"]


def test_language_model_refuses_a_bidirectional_encoder():
    char = DataSpec(input_kind="tokens", target_kind="next_token", input_size=5, output_size=5)
    with pytest.raises(ConfigError) as err:
        build_task(model_cfg(), char)
    assert str(err.value) == ("config key 'model.encoder.bidirectional' must be false for a "
                              "language model (a backward direction would read the tokens it "
                              "predicts), got True")
    assert issubclass(TASKS["next_token"], LanguageModel)


def test_classifier_refuses_other_targets():
    with pytest.raises(ConfigError) as err:
        Classifier(spec=spec("step_class").as_dict(), encoder={"hidden_size": 4})
    assert str(err.value) == ("config key 'data' must be a data module with 'class' targets "
                              "for a Classifier, got 'step_class'")


@pytest.mark.slow
def test_classifier_learns_temporal_order(compose_train):
    from seqlstm.cli.train import train

    cfg = compose_train("model=lstm", "data=temporal_order", "data.length=20",
                        "data.train_size=2000", "data.val_size=200", "data.test_size=200",
                        "model.encoder.hidden_size=32", "model.optimizer.lr=0.01",
                        "trainer.max_epochs=6", "trainer.enable_progress_bar=false",
                        "logger=[]", "callbacks=none", "+trainer.enable_checkpointing=false")
    metrics = train(cfg)
    assert metrics["test/acc"] > 0.9


@pytest.mark.parametrize("target", ["class", "step_class"])
def test_unpacked_forward_encoder_gives_the_same_predictions(target):
    cfg = model_cfg()
    cfg["encoder"]["bidirectional"] = False
    torch.manual_seed(0)
    auto = build_task(cfg, spec(target)).eval()
    cfg["task_options"][target] = {"pack": True}
    packed = build_task(cfg, spec(target)).eval()
    packed.load_state_dict(auto.state_dict())
    assert not auto.packs and packed.packs
    x = padded_batch()
    with torch.no_grad():
        a, b = auto(x, lengths=LENGTHS)[0], packed(x, lengths=LENGTHS)[0]
    if target == "step_class":
        valid = torch.arange(7) < LENGTHS[:, None]
        a, b = a[valid], b[valid]
    torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    assert build_task(model_cfg(), spec(target)).packs  # bidirectional: packed by default


@pytest.mark.slow
def test_predict_from_a_checkpoint_alone(compose_train, tmp_path):
    """Train on a CSV, delete it, and predict new sequences from the checkpoint's state."""
    import lightning as L

    from seqlstm.cli.builders import build_datamodule
    from seqlstm.cli.train import train
    from seqlstm.tasks import load_task
    from tests.conftest import FAST_WITH_CALLBACKS
    from tests.helpers.sequence_data import toy_sequences

    cfg = compose_train("model=bilstm", "data=sequences", f"data.path={toy_sequences(tmp_path)}",
                        "data.batch_size=4", "model.encoder.hidden_size=8", "logger=[]",
                        "~callbacks.lr_monitor",
                        *FAST_WITH_CALLBACKS)
    train(cfg)
    (tmp_path / "sequences.csv").unlink()
    task = load_task(tmp_path / "run" / "checkpoints" / "last.ckpt")
    new = tmp_path / "new.csv"
    new.write_text("sequence,step,x,y\nu,0,1,2\nu,1,3,4\nv,0,5,6\n")
    data = build_datamodule(task.hparams.data, fitted=task.spec.extra, predict_path=str(new))
    outputs = L.Trainer(logger=False, enable_progress_bar=False).predict(task, datamodule=data)
    table = data.format_predictions(outputs)
    assert list(table.columns) == ["id", "predicted", "prob_a", "prob_b"]
    assert table["id"].tolist() == ["u", "v"]
    assert set(table["predicted"]) <= {"a", "b"}
    assert (table[["prob_a", "prob_b"]].sum(axis=1) - 1).abs().max() < 1e-5


def test_validation_figure_is_the_epoch_confusion_matrix():
    tag = build_task(model_cfg(), spec("step_class", classes=2))
    assert tag.validation_figures({}) == {}  # nothing seen yet
    outputs = torch.tensor([[[2.0, 0.0], [0.0, 2.0]], [[0.0, 2.0], [0.0, 2.0]]])
    batch = {"targets": torch.tensor([[0, 0], [1, 1]])}
    tag.update_metrics(tag.val_metrics, outputs, batch, tag.loss(outputs, batch))
    figure = tag.validation_figures(batch)["confusion_matrix"]
    cells = sorted(t.get_text() for t in figure.axes[0].texts)
    assert cells == ["0", "1", "1", "2"]  # counts [[1, 1], [0, 2]], each cell annotated
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["a", "b"]
