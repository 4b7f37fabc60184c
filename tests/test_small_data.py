"""Budgets users set and small splits finish cleanly: ``trainer.max_steps`` below an epoch,
validation off, ``trainer.max_time`` inside the first epoch, an epoch of one optimiser step."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from seqlstm.callbacks import StepEarlyStopping
from seqlstm.cli.train import TRAINING_RECORD, command

TINY = ["model.encoder.hidden_size=8", "model.embedding_dim=8", "logger=[]",
        "~callbacks.rich_progress_bar", "trainer.enable_progress_bar=false", "sample.length=0",
        "~callbacks.media", "~callbacks.throughput", "~callbacks.lr_monitor"]
CHAR = ["data=char", "data.seq_len=16", "data.batch_size=8", "+trainer.limit_test_batches=2"]


def has_test_column(summary: str) -> bool:
    """The end summary has a test column (and no val column)."""
    header = next(line for line in summary.splitlines() if " metric " in line)
    return header.split()[1:] == ["metric", "train", "test", "│"]


def record(tmp_path) -> dict:
    return json.loads((tmp_path / "run" / TRAINING_RECORD).read_text())


@pytest.mark.slow
def test_max_steps_below_one_epoch_ends_cleanly(compose_train, small_text, tmp_path, capsys):
    cfg = compose_train(*CHAR, f"data.path={small_text}", *TINY, "++trainer.max_steps=3")
    assert command(cfg) is None
    out = capsys.readouterr().out
    assert "not measured: optimized_metric val/loss (validation never ran" in out
    assert has_test_column(out)
    assert record(tmp_path)["optimizer_steps"] == 3
    assert not record(tmp_path)["validated"]


@pytest.mark.slow
def test_validation_off_tests_and_says_what_was_not_measured(compose_train, small_text,
                                                              tmp_path, capsys):
    cfg = compose_train(*CHAR, f"data.path={small_text}", *TINY, "trainer.max_epochs=1",
                        "++trainer.limit_train_batches=4", "++trainer.limit_val_batches=0")
    with pytest.warns(UserWarning, match=r"early stopping on val/loss is off: validation never "
                                         r"runs \(trainer\.limit_val_batches=0\)"):
        assert command(cfg) is None
    out = capsys.readouterr().out
    assert "not measured: optimized_metric val/loss" in out and has_test_column(out)
    assert record(tmp_path)["optimizer_steps"] == 4


@pytest.mark.slow
def test_max_time_stops_inside_the_first_epoch(compose_train, small_text, tmp_path):
    big = tmp_path / "big.txt"  # an epoch of about 8,000 steps
    big.write_text(small_text.read_text() * 200)
    cfg = compose_train(*CHAR, f"data.path={big}", *TINY, "++trainer.max_time=00:00:00:01",
                        "test=false")
    command(cfg)
    steps, per_epoch = record(tmp_path)["optimizer_steps"], record(tmp_path)["batches_per_epoch"]
    assert 0 < steps < per_epoch / 10


@pytest.fixture
def tiny_sequences(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.arange(20) % 2
    inputs = rng.normal(size=(20, 6, 2)).astype("float32") + labels[:, None, None]
    path = tmp_path / "seqs.npz"
    np.savez(path, inputs=inputs, lengths=np.full(20, 6), labels=labels)
    return path


@pytest.mark.slow
def test_an_epoch_of_one_step_trains_min_steps_and_waits_in_steps(compose_train,
                                                                   tiny_sequences, tmp_path):
    cfg = compose_train("data=sequences", f"data.path={tiny_sequences}", "data.batch_size=32",
                        "data.min_train_batches=1", *TINY,
                        "callbacks.early_stopping.patience_steps=8",
                        "callbacks.early_stopping.min_steps=12",
                        "callbacks.early_stopping.small_budget=12", "test=false")
    with pytest.warns(UserWarning) as warnings:
        command(cfg)
    messages = [str(w.message) for w in warnings]
    assert any("trainer.max_epochs=3 would stop after 3; training up to 12 epochs "
               "(callbacks.early_stopping.small_budget=12 steps; early stopping ends it sooner, "
               "not before min_steps=12;" in m
               for m in messages), messages
    assert any(m.startswith("the val split holds only 4 sequences") for m in messages), messages
    assert record(tmp_path)["optimizer_steps"] == 12


def test_a_small_training_split_trains_in_smaller_batches(tiny_sequences):
    from seqlstm.data import SequenceDataModule

    data = SequenceDataModule(str(tiny_sequences), batch_size=32)  # 12 training sequences
    data.setup("fit")
    with pytest.warns(UserWarning, match=r"data\.batch_size=32 gives 1 training batch\(es\) per "
                                         r"epoch from 12 sequences; training in batches of 3 to "
                                         r"reach data\.min_train_batches=4 \(set it to 1 to "
                                         r"keep 32\)"):
        batches = [len(batch["targets"]) for batch in data.train_dataloader()]
    assert batches == [3, 3, 3, 3]
    assert [len(b["targets"]) for b in data.val_dataloader()] == [4]  # evaluation: as set
    data = SequenceDataModule(str(tiny_sequences), batch_size=32, min_train_batches=1)
    data.setup("fit")
    assert len(data.train_dataloader()) == 1
    data = SequenceDataModule(str(tiny_sequences), batch_size=3)
    data.setup("fit")
    assert len(data.train_dataloader()) == 4  # enough batches already: no change, no warning


def test_patience_counts_steps_between_checks():
    stopper = StepEarlyStopping(patience=5, patience_steps=200, min_steps=0)

    class Trainer:  # validation every epoch of one step
        enable_validation, num_val_batches, num_training_batches = True, [1], 1
        accumulate_grad_batches, val_check_batch, check_val_every_n_epoch, max_steps = \
            1, 1, 1, -1
        train_dataloader = val_dataloaders = None
        fast_dev_run = True  # leaves max_epochs alone

    stopper.on_train_start(Trainer(), None)
    assert stopper.patience == 200
    Trainer.num_training_batches = Trainer.val_check_batch = 100
    stopper.on_train_start(Trainer(), None)
    assert stopper.patience == max(5, math.ceil(200 / 100))


def test_unwritable_run_folder_is_refused_by_name(tmp_path):
    from seqlstm.cli.folders import check_run_folder
    from seqlstm.errors import DataError

    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(DataError, match=r"file\.txt/run: the run folder cannot be written "
                                        r"\(Not a directory\)"):
        check_run_folder(blocker / "run", resuming=False)


def test_a_second_run_in_the_same_folder_is_refused(tmp_path):
    from seqlstm.cli.folders import check_run_folder
    from seqlstm.errors import ConfigError

    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    with pytest.raises(ConfigError) as error:
        check_run_folder(tmp_path, resuming=False)
    assert str(error.value) == (
        f"config key 'hydra.run.dir' must be a folder no other run has written to (it holds "
        f"checkpoints/last.ckpt: resume that run with ckpt_path={tmp_path}, or choose another "
        f"folder), got '{tmp_path}'")
    check_run_folder(tmp_path, resuming=True)  # a resume may
    (tmp_path / "hpc_ckpt_1.ckpt").write_bytes(b"")
    check_run_folder(tmp_path, resuming=False)  # so may a SLURM requeue
