"""SequenceDataModule: reading .npz/.csv/.ts, splits, train-only normalisation, batches,
the prediction contract and each bad input's message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from seqlstm.data import SequenceDataModule
from seqlstm.data.sequences.batches import LengthBuckets
from seqlstm.data.sequences.module import natural_key, stratified_split
from seqlstm.data.shipped import aeon_data_dir, aeon_file
from seqlstm.errors import ConfigError, DataError


def toy_npz(path: Path, count: int = 40, seed: int = 0, step_labels: bool = False) -> Path:
    """``count`` sequences of 3 features, lengths 2..9, labels by the sign of feature 0."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 10, count)
    inputs = np.zeros((count, 9, 3), dtype=np.float32)
    for i, n in enumerate(lengths):
        inputs[i, :n] = rng.normal(5.0, 2.0, (n, 3))
    if step_labels:
        labels = np.where(inputs[..., 0] > 5, "hi", "lo")
    else:
        labels = np.where(inputs[:, 0, 0] > 5, "hi", "lo")
    np.savez(path, inputs=inputs, lengths=lengths, labels=labels,
             ids=np.array([f"s{i}" for i in range(count)]))
    return path


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("sequence,step,x,y,label\n" + "".join(r + "\n" for r in rows))
    return path


CSV_ROWS = [f"{seq},{step},{seq}.{step},{-step},{'up' if seq % 2 else 'down'}"
            for seq in range(10) for step in range(2 + seq % 3)]


def test_npz_splits_batches_and_spec(tmp_path):
    dm = SequenceDataModule(str(toy_npz(tmp_path / "toy.npz")), val_fraction=0.25,
                            test_fraction=0.25, batch_size=8)
    dm.setup("fit")
    spec = dm.spec
    assert (spec.input_kind, spec.target_kind, spec.input_size, spec.output_size) == \
        ("real", "class", 3, 2)
    assert spec.variable_length and spec.labels == ["hi", "lo"]
    sizes = {name: len(split) for name, split in dm.splits.items()}
    assert sizes == {"train": 20, "val": 10, "test": 10}
    assert sum(spec.extra["class_counts"]) == 20
    batch = next(iter(dm.val_dataloader()))
    assert set(batch) == {"inputs", "targets", "lengths"}
    assert batch["inputs"].shape == (8, int(batch["lengths"].max()), 3)
    assert batch["targets"].dtype == torch.long and batch["targets"].shape == (8,)
    # padding after each sequence's end is zero
    for row, n in zip(batch["inputs"], batch["lengths"], strict=True):
        assert row[n:].abs().sum() == 0


def test_normalisation_is_fitted_on_train_alone(tmp_path):
    dm = SequenceDataModule(str(toy_npz(tmp_path / "toy.npz")))
    dm.setup("fit")
    train = dm.splits["train"]
    valid = torch.arange(train.inputs.size(1)) < train.lengths[:, None]
    values = train.inputs[valid]  # (sum of lengths, F)
    torch.testing.assert_close(values.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(values.std(0, unbiased=False), torch.ones(3), atol=1e-4, rtol=0)
    val = dm.splits["val"]
    val_values = val.inputs[torch.arange(val.inputs.size(1)) < val.lengths[:, None]]
    assert val_values.mean(0).abs().max() > 1e-3  # val is scaled with train's statistics


def test_stratified_split_is_seeded_and_proportional():
    strata = ["a"] * 30 + ["b"] * 10
    first = stratified_split(40, strata, (0.2, 0.1), seed=3)
    again = stratified_split(40, strata, (0.2, 0.1), seed=3)
    other = stratified_split(40, strata, (0.2, 0.1), seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[1], other[1])
    train, val, test = first
    assert (len(train), len(val), len(test)) == (28, 8, 4)
    assert sum(i >= 30 for i in val) == 2 and sum(i >= 30 for i in test) == 1
    assert sorted(np.concatenate(first).tolist()) == list(range(40))


def test_natural_label_order():
    assert sorted(["10", "2", "b", "1", "a"], key=natural_key) == ["1", "2", "10", "a", "b"]


def test_csv_long_format_class_and_step_labels(tmp_path):
    path = write_csv(tmp_path / "seqs.csv", CSV_ROWS)
    dm = SequenceDataModule(str(path), val_fraction=0.2, test_fraction=0.2, batch_size=4)
    dm.setup("fit")
    assert dm.spec.labels == ["down", "up"] and dm.spec.input_size == 2
    assert dm.spec.extra["features"] == ["x", "y"]
    assert sorted(len(s) for s in dm.splits.values()) == [2, 2, 6]
    tagger = SequenceDataModule(str(path), target="step_class", batch_size=4)
    tagger.setup("fit")
    batch = next(iter(tagger.train_dataloader()))
    assert batch["targets"].shape == batch["inputs"].shape[:2]
    steps = torch.arange(batch["targets"].size(1))
    assert ((batch["targets"] == -100) == (steps >= batch["lengths"][:, None])).all()


@pytest.mark.parametrize(("rows", "message"), [
    (["0,0,1,2,a", "0,0,1,2,a"], "line 3: sequence '0' has step 0 after step 0; steps must "
                                 "increase within a sequence"),
    (["0,0,1,2,a", "0,1,x,2,a"], "line 3, column 'x': 'x' is not a number (missing values "
                                 "are not supported)"),
    (["0,0,1,,a"], "line 2, column 'y': an empty cell is not a number (missing values are not "
                   "supported)"),
    (["0,0,1,2,a", "0,1,1,2,b"], "line 3: sequence '0' changes label from 'a' to 'b'; target "
                                 "'class' needs one label per sequence"),
])
def test_csv_bad_rows(tmp_path, rows, message):
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(DataError) as err:
        SequenceDataModule(str(path)).setup("fit")
    assert str(err.value) == f"{path}, {message}"


def test_csv_missing_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,step,x\n0,0,1\n")
    with pytest.raises(DataError) as err:
        SequenceDataModule(str(path)).setup("fit")
    assert str(err.value) == (f"{path}: no id column 'sequence' (columns: ['id', 'step', 'x']); "
                              "set data.columns.id")


def test_npz_bad_arrays(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, x=np.zeros(3))
    with pytest.raises(DataError) as err:
        SequenceDataModule(str(path)).setup("fit")
    assert str(err.value) == (f"{path}: no 'inputs' array (found ['x']); expected inputs "
                              "(N, T, F) or (N, T), optional lengths (N,), labels and ids")
    np.savez(path, inputs=np.zeros((2, 4)), lengths=np.array([4, 5]), labels=np.array([0, 1]))
    with pytest.raises(DataError) as err:
        SequenceDataModule(str(path)).setup("fit")
    assert str(err.value) == (f"{path}: 'lengths' must hold 2 integers in [1, 4], got shape "
                              "(2,) with range [4, 5]")
    np.savez(path, inputs=np.array([[1.0, np.nan]]), labels=np.array([0]))
    with pytest.raises(DataError) as err:
        SequenceDataModule(str(path)).setup("fit")
    assert str(err.value) == f"{path}: sequence 0, step 1, feature 0: nan is not a finite number"


def test_unknown_suffix_and_bad_config(tmp_path):
    path = tmp_path / "seqs.txt"
    path.write_text("1")
    with pytest.raises(DataError) as err:
        SequenceDataModule(str(path)).setup("fit")
    assert str(err.value) == (f"{path}: cannot tell the format from the suffix '.txt'; "
                              "expected one of ['.csv', '.npz', '.ts'] or set data.format")
    with pytest.raises(ConfigError) as err:
        SequenceDataModule(str(path), target="regression")
    assert str(err.value) == ("config key 'data.target' must be one of ['class', 'step_class'], "
                              "got 'regression'")
    with pytest.raises(ConfigError) as err:
        SequenceDataModule(str(path), val_fraction=0.6, test_fraction=0.5)
    assert str(err.value) == ("config key 'data.val_fraction' must be in (0, 1), with "
                              "val_fraction + test_fraction < 1, got [0.6, 0.5]")


def test_test_labels_unseen_in_training_are_refused(tmp_path):
    train = write_csv(tmp_path / "train.csv", CSV_ROWS)
    test = write_csv(tmp_path / "test.csv", ["0,0,1,2,sideways", "1,0,1,2,up"])
    with pytest.raises(DataError) as err:
        SequenceDataModule(str(train), test_path=str(test)).setup("fit")
    assert str(err.value) == (f"{test}: labels ['sideways'] are not among the training labels "
                              "['down', 'up']")


def fake_outputs(dm: SequenceDataModule, step: bool = False) -> list[dict[str, torch.Tensor]]:
    """What a task's predict_step would return: probabilities favouring class 1."""
    outputs = []
    for batch in dm.predict_dataloader():
        shape = batch["inputs"].shape[: 2 if step else 1]
        probs = torch.tensor([0.25, 0.75]).expand(*shape, 2)
        outputs.append({"class": probs.argmax(-1), "probs": probs, "lengths": batch["lengths"]})
    return outputs


def test_predict_contract_from_fitted_state_alone(tmp_path):
    train = write_csv(tmp_path / "train.csv", CSV_ROWS)
    dm = SequenceDataModule(str(train))
    dm.setup("fit")
    fitted = dm.spec.extra
    new = write_csv(tmp_path / "new.csv", ["a,0,1,2,up", "a,1,3,4,up", "b,0,5,6,down"])
    (tmp_path / "train.csv").unlink()  # prediction needs the fitted state, not the train file
    predict = SequenceDataModule(str(train), fitted=fitted, predict_path=str(new), batch_size=1)
    predict.setup("predict")
    assert predict.spec == dm.spec
    first = next(iter(predict.predict_dataloader()))
    mean, std = (torch.tensor(fitted[k], dtype=torch.float32) for k in ("mean", "std"))
    torch.testing.assert_close(first["inputs"][0], (torch.tensor([[1.0, 2], [3, 4]]) - mean) / std)
    table = predict.format_predictions(fake_outputs(predict))
    assert list(table.columns) == ["id", "predicted", "prob_down", "prob_up", "label"]
    assert table["id"].tolist() == ["a", "b"]
    assert table["predicted"].tolist() == ["up", "up"]
    assert table["prob_up"].tolist() == [0.75, 0.75]
    assert table["label"].tolist() == ["up", "down"]


def test_predict_step_labels_table(tmp_path):
    train = write_csv(tmp_path / "train.csv", CSV_ROWS)
    new = tmp_path / "new.csv"
    new.write_text("sequence,step,x,y\na,0,1,2\na,1,3,4\nb,0,5,6\n")
    dm = SequenceDataModule(str(train), target="step_class", predict_path=str(new))
    dm.setup("predict")  # no fitted state: fitted on the training file first
    table = dm.format_predictions(fake_outputs(dm, step=True))
    assert list(table.columns) == ["id", "step", "predicted", "prob_down", "prob_up"]
    assert table[["id", "step"]].values.tolist() == [["a", 0], ["a", 1], ["b", 0]]


def test_predict_labels_unknown_to_training_are_refused(tmp_path):
    train = write_csv(tmp_path / "train.csv", CSV_ROWS)
    dm = SequenceDataModule(str(train))
    dm.setup("fit")
    new = write_csv(tmp_path / "new.csv", ["a,0,1,2,left", "b,0,1,2,up", "c,0,1,2,right"])
    predict = SequenceDataModule(str(train), fitted=dm.spec.extra, predict_path=str(new))
    with pytest.raises(DataError) as err:
        predict.setup("predict")
    assert str(err.value) == (f"{new}: labels ['left', 'right'] are not among the training "
                              "labels ['down', 'up']")


def test_predict_width_mismatch(tmp_path):
    train = write_csv(tmp_path / "train.csv", CSV_ROWS)
    dm = SequenceDataModule(str(train))
    dm.setup("fit")
    new = tmp_path / "new.csv"
    new.write_text("sequence,step,x\na,0,1\n")
    predict = SequenceDataModule(str(train), fitted=dm.spec.extra, predict_path=str(new))
    with pytest.raises(DataError) as err:
        predict.setup("predict")
    assert str(err.value) == f"{new}: sequences have 1 features; the model was fitted on 2"


def test_japanese_vowels_module():
    if aeon_data_dir() is None:
        pytest.skip("aeon is not installed: JapaneseVowels ships in its wheel")
    dm = SequenceDataModule(aeon_file("JapaneseVowels", "TRAIN"),
                            test_path=aeon_file("JapaneseVowels", "TEST"))
    dm.setup("fit")
    assert {name: len(s) for name, s in dm.splits.items()} == \
        {"train": 216, "val": 54, "test": 370}
    assert dm.spec.extra["class_counts"] == [24] * 9
    assert dm.spec.labels == [str(i) for i in range(1, 10)]
    assert dm.splits["test"].inputs.shape == (370, 29, 12)


def test_length_buckets_cover_every_sequence_once_with_little_padding():
    lengths = torch.tensor(np.random.default_rng(0).integers(1, 100, 250))
    sampler = LengthBuckets(lengths, batch_size=16, bucket_batches=4, seed=1)
    first, second = list(sampler), list(sampler)
    assert len(first) == len(sampler) == 16
    assert sorted(i for batch in first for i in batch) == list(range(250))
    assert first != second  # a new order every epoch
    padding = sum(int(lengths[b].max() * len(b) - lengths[b].sum()) for b in first)
    random_padding = sum(int(lengths[b].max() * len(b) - lengths[b].sum())
                         for b in torch.arange(250).split(16))
    assert padding < random_padding / 2
