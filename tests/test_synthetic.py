"""The long-memory tasks: exact structure, seeded determinism, baselines, bad settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqlstm.data import AddingProblem, CopyTask, RunningSign, TemporalOrder
from seqlstm.data.synthetic import save_inputs
from seqlstm.errors import ConfigError, DataError


def test_adding_problem_structure_and_baseline():
    dm = AddingProblem(length=30, train_size=8, val_size=4, test_size=20000, seed=1)
    inputs, lengths, targets = dm.split("test")
    assert inputs.shape == (20000, 30, 2) and inputs.dtype == np.float32
    assert targets.shape == (20000, 1, 1) and lengths.tolist() == [30] * 20000
    values, markers = inputs[..., 0], inputs[..., 1]
    assert values.min() >= 0 and values.max() < 1
    assert (markers[:, :15].sum(1) == 1).all() and (markers[:, 15:].sum(1) == 1).all()
    np.testing.assert_allclose(targets[:, 0, 0], (values * markers).sum(1), rtol=1e-6)
    # always predicting 1 scores Var(U1 + U2) = 1/6
    assert np.mean((targets - 1) ** 2) == pytest.approx(1 / 6, abs=0.005)
    spec = dm.spec
    assert (spec.input_kind, spec.target_kind, spec.input_size, spec.output_size,
            spec.horizon, spec.variable_length) == ("real", "real", 2, 1, 1, False)


def test_generators_are_deterministic_by_seed_and_split():
    a = AddingProblem(length=20, train_size=50, val_size=50, test_size=50, seed=7)
    b = AddingProblem(length=20, train_size=50, val_size=50, test_size=50, seed=7)
    c = AddingProblem(length=20, train_size=50, val_size=50, test_size=50, seed=8)
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(a.split(name)[0], b.split(name)[0])
        assert not np.array_equal(a.split(name)[0], c.split(name)[0])
    assert not np.array_equal(a.split("train")[0], a.split("val")[0])
    # a split does not depend on the sizes of the others
    bigger = AddingProblem(length=20, train_size=500, val_size=50, test_size=50, seed=7)
    np.testing.assert_array_equal(bigger.split("val")[0], a.split("val")[0])


@pytest.mark.parametrize(("classes", "windows"), [
    (4, [(10, 20), (50, 60)]),
    (8, [(10, 20), (33, 43), (66, 76)]),
])
def test_temporal_order(classes, windows):
    dm = TemporalOrder(length=100, num_classes=classes, train_size=4, val_size=4,
                       test_size=2000, seed=0)
    inputs, _, targets = dm.split("test")
    assert inputs.shape == (2000, 100, 8) and (inputs.sum(-1) == 1).all()
    symbols = inputs.argmax(-1)  # a b c d X Y B E -> 0..7
    assert (symbols[:, 0] == 6).all() and (symbols[:, -1] == 7).all()
    relevant = [np.flatnonzero(row >= 4)[1:-1] for row in symbols]  # drop B and E
    assert all(len(r) == len(windows) for r in relevant)
    for row, where, label in zip(symbols, relevant, targets, strict=True):
        assert all(low <= t <= high for t, (low, high) in zip(where, windows, strict=True))
        code = "".join("XY"[s - 4] for s in row[where])
        assert dm.spec.labels[label] == code
    assert np.bincount(targets, minlength=classes).min() > 2000 / classes * 0.8
    assert dm.spec.labels[:2] == (["XX", "XY"] if classes == 4 else ["XXX", "XXY"])


def test_copy_task():
    dm = CopyTask(length=5, copy_length=3, num_symbols=4, train_size=2, val_size=2,
                  test_size=100, seed=0)
    inputs, lengths, targets = dm.split("test")
    assert inputs.shape == (100, 11, 6) and lengths.tolist() == [11] * 100
    ids = inputs.argmax(-1)
    assert (ids[:, 3:7] == 4).all() and (ids[:, 7] == 5).all() and (ids[:, 8:] == 4).all()
    assert (targets[:, :8] == -100).all()
    np.testing.assert_array_equal(targets[:, 8:], ids[:, :3])
    spec = dm.spec
    assert (spec.target_kind, spec.input_size, spec.output_size, spec.labels) == \
        ("step_class", 6, 4, ["A", "B", "C", "D"])


def test_running_sign_variable_length_batches():
    dm = RunningSign(length=12, min_length=3, train_size=64, val_size=16, test_size=16,
                     seed=0, batch_size=16)
    inputs, lengths, targets = dm.split("train")
    assert lengths.min() >= 3 and lengths.max() <= 12 and len(set(lengths.tolist())) > 5
    for row, n, labels in zip(inputs[..., 0], lengths, targets, strict=True):
        assert (row[n:] == 0).all() and (labels[n:] == -100).all()
        np.testing.assert_array_equal(labels[:n], np.cumsum(row[:n]) > 0)
    dm.setup("fit")
    batch = next(iter(dm.val_dataloader()))
    assert set(batch) == {"inputs", "targets", "lengths"}
    assert batch["inputs"].shape == (16, int(batch["lengths"].max()), 1)
    assert dm.spec.variable_length and dm.spec.labels == ["negative", "positive"]


def test_fixed_length_batches_carry_no_lengths():
    dm = TemporalOrder(length=20, train_size=8, val_size=8, test_size=8, batch_size=4)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"inputs", "targets"}
    assert batch["inputs"].shape == (4, 20, 8) and batch["targets"].shape == (4,)


def test_predict_file_for_a_synthetic_task(tmp_path):
    dm = TemporalOrder(length=20, train_size=8, val_size=8, test_size=8)
    inputs, _, _ = dm.split("test")
    save_inputs(tmp_path / "new.npz", inputs[:3])
    predict = TemporalOrder(length=20, train_size=8, val_size=8, test_size=8,
                            predict_path=str(tmp_path / "new.npz"))
    predict.setup("predict")
    batch = next(iter(predict.predict_dataloader()))
    torch.testing.assert_close(batch["inputs"], torch.from_numpy(inputs[:3]))
    probs = torch.full((3, 4), 0.25)
    probs[:, 2] = 0.4
    table = predict.format_predictions([{"class": probs.argmax(-1), "probs": probs}])
    assert table["id"].tolist() == ["0", "1", "2"]
    assert table["predicted"].tolist() == ["YX"] * 3
    save_inputs(tmp_path / "wide.npz", np.zeros((2, 20, 3), dtype=np.float32))
    wide = TemporalOrder(length=20, predict_path=str(tmp_path / "wide.npz"), train_size=8,
                         val_size=8, test_size=8)
    with pytest.raises(DataError) as err:
        wide.setup("predict")
    assert str(err.value) == (f"{tmp_path}/wide.npz: inputs have 3 features per step; this "
                              "task has 8")


@pytest.mark.parametrize(("make", "message"), [
    (lambda: AddingProblem(length=1), "config key 'data.length' must be an integer >= 2 (one "
                                      "marker in each half), got 1"),
    (lambda: AddingProblem(train_size=0), "config key 'data.train_size' must be an integer "
                                          ">= 1, got 0"),
    (lambda: TemporalOrder(num_classes=6), "config key 'data.num_classes' must be 4 (Exp. 6a) "
                                           "or 8 (Exp. 6b), got 6"),
    (lambda: TemporalOrder(length=10), "config key 'data.length' must be an integer >= 20, "
                                       "got 10"),
    (lambda: CopyTask(num_symbols=1), "config key 'data.num_symbols' must be an integer >= 2, "
                                      "got 1"),
    (lambda: RunningSign(length=5, min_length=6), "config key 'data.min_length' must be an "
                                                  "integer in [1, length=5], got 6"),
])
def test_bad_settings(make, message):
    with pytest.raises(ConfigError) as err:
        make()
    assert str(err.value) == message


@pytest.mark.parametrize("task", ["adding", "temporal_order", "copy"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_experiment_configs_compose(compose_train, task, cell):
    cfg = compose_train(f"experiment={task}_{cell}")
    assert cfg.task_name == f"{task}_{cell}"
    assert cfg.model.encoder.cell == cell and cfg.data.length in (50, 100)
    assert cfg.data._target_.endswith({"adding": "AddingProblem", "copy": "CopyTask",
                                       "temporal_order": "TemporalOrder"}[task])


def test_copy_chrono_recipe(compose_train):
    """The recipe docs/benchmarks.md measured: copy_lstm with chrono init (max_delay from the
    data), Adam at 0.01 decayed over the run by a cosine schedule."""
    cfg = compose_train("experiment=copy_chrono", "trainer.max_epochs=7")
    assert cfg.task_name == "copy_chrono" and cfg.data._target_.endswith("CopyTask")
    assert cfg.model.encoder.init == "chrono" and cfg.model.encoder.max_delay is None
    assert cfg.data.length == 50 and cfg.model.optimizer.lr == 0.01
    assert cfg.model.scheduler._target_.endswith("CosineAnnealingLR")
    assert cfg.model.scheduler.T_max == 7


def test_adding_predictions_table(tmp_path):
    dm = AddingProblem(length=10, train_size=4, val_size=4, test_size=4)
    inputs, _, _ = dm.split("test")
    save_inputs(tmp_path / "new.npz", inputs[:3])
    predict = AddingProblem(length=10, train_size=4, val_size=4, test_size=4,
                            fitted={}, predict_path=str(tmp_path / "new.npz"))
    predict.setup("predict")
    mean = torch.tensor([0.5, 1.0, 1.5]).view(3, 1, 1)
    table = predict.format_predictions([{"mean": mean[:2], "lower": mean[:2] - 0.1},
                                        {"mean": mean[2:], "lower": mean[2:] - 0.1}])
    assert list(table.columns) == ["id", "mean", "lower"]
    assert table["mean"].tolist() == [0.5, 1.0, 1.5]
    assert table["lower"].tolist() == pytest.approx([0.4, 0.9, 1.4])
