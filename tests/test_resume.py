"""Crash-safe checkpoints and exact resume: SIGKILL and SIGTERM mid-epoch, then resume."""

from __future__ import annotations

import errno
import signal
from pathlib import Path

import pytest

from seqlstm.cli.resume import resolve_ckpt_path
from seqlstm.cli.train import train
from seqlstm.errors import CheckpointError
from seqlstm.tasks import read_checkpoint
from seqlstm.tasks.checkpoint_io import SafeCheckpointIO
from tests.conftest import run_cli
from tests.reliability import (
    assert_same_tensors,
    cli_args,
    compose_in,
    final_state,
    tiny_run,
    val_losses,
)


@pytest.fixture
def reference(compose_train, small_text, tmp_path) -> Path:
    """An uninterrupted run (12 steps over 2 epochs)."""
    run_dir = tmp_path / "reference"
    train(compose_in(compose_train, run_dir, *tiny_run(small_text)))
    return run_dir


def killed_run(small_text: Path, run_dir: Path, step: int, signum: int) -> int:
    """Run the same training in a subprocess that gets ``signum`` at global step ``step``."""
    result = run_cli("train", *cli_args(
        small_text, run_dir, "+callbacks.fault._target_=tests.faults.SignalAt",
        f"+callbacks.fault.step={step}", f"+callbacks.fault.signum={int(signum)}"),
        cwd=run_dir.parent, check=False)
    assert not (run_dir / "csv" / "metrics.csv").read_text().count("\n") == 0
    return result.returncode


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "saved_step"), [
    (signal.SIGKILL, 8),   # killed at step 10: the last periodic checkpoint is step 8
    (signal.SIGTERM, 10),  # SIGTERM during step 9: checkpoint written after that step
], ids=["sigkill", "sigterm"])
def test_killed_mid_epoch_resumes_to_the_same_weights(signum, saved_step, reference,
                                                      compose_train, small_text, tmp_path):
    killed = tmp_path / "killed"
    killed.mkdir()
    returncode = killed_run(small_text, killed, step=10 if signum == signal.SIGKILL else 9,
                            signum=signum)
    assert returncode == (-signal.SIGKILL if signum == signal.SIGKILL else 0)
    checkpoint = read_checkpoint(killed / "checkpoints" / "last.ckpt")
    assert checkpoint["global_step"] == saved_step
    assert checkpoint["epoch"] == 1  # mid-way through the second epoch of 6 steps
    assert not list(killed.rglob("*.tmp"))  # no half-written file left behind

    resumed = tmp_path / "resumed"
    train(compose_in(compose_train, resumed, *tiny_run(small_text), f"ckpt_path={killed}"))
    ours, theirs = final_state(resumed), final_state(reference)
    assert ours["global_step"] == theirs["global_step"] == 12
    assert_same_tensors(ours["state_dict"], theirs["state_dict"])
    assert_same_tensors(ours["optimizer"], theirs["optimizer"])
    assert val_losses(resumed)[1] == val_losses(reference)[1]


def test_ckpt_path_last_finds_the_newest_run(tmp_path):
    runs = tmp_path / "runs"
    for name in ("a", "b"):
        (runs / name / "checkpoints").mkdir(parents=True)
        (runs / name / "checkpoints" / "last.ckpt").write_bytes(b"x")
    newest = runs / "a" / "checkpoints" / "last.ckpt"
    newest.touch()
    assert resolve_ckpt_path("last", runs) == str(newest)
    assert resolve_ckpt_path(str(runs / "b"), runs) == str(runs / "b/checkpoints/last.ckpt")
    assert resolve_ckpt_path("auto", tmp_path / "none") is None
    with pytest.raises(CheckpointError, match="ckpt_path=last: no run under .* has "
                                              "checkpoints/last.ckpt"):
        resolve_ckpt_path("last", tmp_path / "none")


class FullDisk(SafeCheckpointIO):
    """Writes half the checkpoint, then fails as a full disk does."""

    def write(self, checkpoint, out):
        out.write(b"PK\x03\x04 partial")
        raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_fails_loudly_and_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "checkpoints" / "last.ckpt"
    SafeCheckpointIO().save_checkpoint({"seqlstm_task": "x", "step": 1}, path)
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match=r"last.ckpt: could not save the checkpoint "
                                              r"\(No space left on device\); the previous file"):
        FullDisk().save_checkpoint({"seqlstm_task": "x", "step": 2}, path)
    assert path.read_bytes() == before
    assert read_checkpoint(path)["step"] == 1
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]
