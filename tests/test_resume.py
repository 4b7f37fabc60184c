"""Crash-safe checkpoints and exact resume: SIGKILL and SIGTERM mid-epoch, then resume."""

from __future__ import annotations

import errno
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from seqlstm.checkpoint_io import SafeCheckpointIO
from seqlstm.cli.resume import resolve_ckpt_path
from seqlstm.cli.train import train
from seqlstm.errors import CheckpointError
from seqlstm.tasks import read_checkpoint
from seqlstm.tasks.carried import CARRIED_KEY
from tests.conftest import run_cli
from tests.helpers.reliability import (
    assert_same_tensors,
    compose_in,
    final_state,
    stateful_run,
    tiny_run,
    val_losses,
)


def killed_run(small_text: Path, run_dir: Path, step: int, signum: int,
               run: Callable[..., list[str]] = tiny_run) -> int:
    """Run the training (``run``'s overrides) in a subprocess that gets ``signum`` at the start
    of global step ``step``; returns its exit status."""
    run_dir.mkdir()
    result = run_cli("train", *run(
        small_text, "+callbacks.fault._target_=tests.helpers.faults.SignalAt",
        f"+callbacks.fault.step={step}", f"+callbacks.fault.signum={int(signum)}"),
        f"hydra.run.dir={run_dir}", cwd=run_dir.parent, check=False)
    return result.returncode


@pytest.mark.slow
def test_killed_mid_epoch_resumes_to_the_same_weights(compose_train, small_text, tmp_path):
    """12 steps over 2 epochs of 6; last.ckpt every 4 steps. SIGKILL at step 10 loses steps
    8-9 (resume from the periodic step-8 checkpoint); SIGTERM during step 9 writes a checkpoint
    after it (step 10). Both resumed runs end bitwise equal to the uninterrupted one."""
    reference = tmp_path / "reference"
    train(compose_in(compose_train, reference, *tiny_run(small_text)))
    expected = final_state(reference)
    assert expected["global_step"] == 12

    cases = {"sigkill": (signal.SIGKILL, 10, -signal.SIGKILL, 8),
             "sigterm": (signal.SIGTERM, 9, 0, 10)}
    for name, (signum, at_step, returncode, saved_step) in cases.items():
        killed = tmp_path / f"{name}-killed"
        assert killed_run(small_text, killed, at_step, signum) == returncode
        checkpoint = read_checkpoint(killed / "checkpoints" / "last.ckpt")
        assert (checkpoint["global_step"], checkpoint["epoch"]) == (saved_step, 1), name
        assert not list(killed.rglob("*.tmp"))  # no half-written file left behind

        resumed = tmp_path / f"{name}-resumed"
        train(compose_in(compose_train, resumed, *tiny_run(small_text), f"ckpt_path={killed}"))
        ours = final_state(resumed)
        assert ours["global_step"] == 12
        assert_same_tensors(ours["state_dict"], expected["state_dict"])
        assert_same_tensors(ours["optimizer"], expected["optimizer"])
        assert val_losses(resumed)[1] == val_losses(reference)[1]


@pytest.mark.slow
def test_a_fit_stopped_between_saves_leaves_its_final_state_in_last_ckpt(compose_train,
                                                                       small_text, tmp_path):
    """max_steps=10 stops in the second epoch, two steps after the periodic step-8 save:
    last.ckpt holds step 10, and resuming it to 12 steps ends bitwise equal to the run that
    trained 12 steps at once."""
    reference = tmp_path / "reference"
    train(compose_in(compose_train, reference, *tiny_run(small_text)))
    expected = final_state(reference)

    stopped = tmp_path / "stopped"
    train(compose_in(compose_train, stopped, *tiny_run(small_text, "+trainer.max_steps=10")))
    checkpoint = read_checkpoint(stopped / "checkpoints" / "last.ckpt")
    assert (checkpoint["global_step"], checkpoint["epoch"]) == (10, 1)

    resumed = tmp_path / "resumed"
    train(compose_in(compose_train, resumed, *tiny_run(small_text), f"ckpt_path={stopped}"))
    ours = final_state(resumed)
    assert ours["global_step"] == 12
    assert_same_tensors(ours["state_dict"], expected["state_dict"])
    assert_same_tensors(ours["optimizer"], expected["optimizer"])


@pytest.mark.slow
def test_stateful_training_killed_mid_epoch_resumes_its_streams(compose_train, small_text,
                                                                tmp_path):
    """Stateful streams: the checkpoint keeps every stream's carried hidden state and the data
    module keeps its position, so a run SIGKILLed in its second epoch and resumed from the
    step-interval checkpoint ends bitwise equal to the uninterrupted run."""
    reference = tmp_path / "reference"
    train(compose_in(compose_train, reference, *stateful_run(small_text)))
    expected = final_state(reference)
    per_epoch = expected["global_step"] // 2
    kill_at = (per_epoch // 4 + 2) * 4 + 1  # the periodic checkpoint before it is mid-epoch 2

    killed = tmp_path / "killed"
    assert killed_run(small_text, killed, kill_at, signal.SIGKILL, stateful_run) \
        == -signal.SIGKILL
    checkpoint = read_checkpoint(killed / "checkpoints" / "last.ckpt")
    assert checkpoint["epoch"] == 1 and checkpoint["global_step"] == kill_at - 1
    assert checkpoint["global_step"] % per_epoch  # inside the epoch, not at its end
    h, c = checkpoint[CARRIED_KEY]["parts"]  # (ranks, layers, streams, hidden)
    assert h.shape == c.shape == (1, 1, 8, 16) and h.abs().sum() > 0

    resumed = tmp_path / "resumed"
    train(compose_in(compose_train, resumed, *stateful_run(small_text), f"ckpt_path={killed}"))
    ours = final_state(resumed)
    assert ours["global_step"] == expected["global_step"]
    assert_same_tensors(ours["state_dict"], expected["state_dict"])
    assert_same_tensors(ours["optimizer"], expected["optimizer"])
    assert val_losses(resumed)[1] == val_losses(reference)[1]


def two_rank_stateful_run(text: Path, *extra: str) -> list[str]:
    """:func:`stateful_run` on two CPU ranks (``trainer=ddp_cpu``), deterministic: each rank
    carries the streams of its own shard, so an epoch is half as many steps."""
    return [*(o for o in stateful_run(text, *extra) if not o.startswith("trainer=")),
            "trainer=ddp_cpu", "trainer.deterministic=true", "++trainer.benchmark=false",
            "~callbacks.media", "~callbacks.throughput"]


@pytest.mark.slow
def test_two_rank_stateful_training_killed_mid_epoch_resumes_every_ranks_streams(small_text,
                                                                                 tmp_path):
    """Two ranks (DDP over gloo), each carrying the state of its own streams: the periodic
    checkpoint gathers both ranks' states, so a run whose ranks are SIGKILLed in the second
    epoch, resumed from that checkpoint on two ranks, ends bitwise equal to the uninterrupted
    run."""
    reference = tmp_path / "reference"
    run_cli("train", *two_rank_stateful_run(small_text), f"hydra.run.dir={reference}",
            cwd=tmp_path, timeout=300)
    expected = final_state(reference)
    per_epoch = expected["global_step"] // 2
    kill_at = (per_epoch // 4 + 1) * 4 + 1  # the periodic checkpoint before it is mid-epoch 2
    assert per_epoch < kill_at - 1 < 2 * per_epoch and (kill_at - 1) % per_epoch

    killed = tmp_path / "killed"
    assert killed_run(small_text, killed, kill_at, signal.SIGKILL, two_rank_stateful_run) \
        == -signal.SIGKILL
    checkpoint = read_checkpoint(killed / "checkpoints" / "last.ckpt")
    assert (checkpoint["epoch"], checkpoint["global_step"]) == (1, kill_at - 1)
    h, c = checkpoint[CARRIED_KEY]["parts"]  # (ranks, layers, streams, hidden)
    assert h.shape == c.shape == (2, 1, 8, 16)
    assert not torch.equal(h[0], h[1])  # each rank's own streams

    resumed = tmp_path / "resumed"
    run_cli("train", *two_rank_stateful_run(small_text), f"ckpt_path={killed}",
            f"hydra.run.dir={resumed}", cwd=tmp_path, timeout=300)
    ours = final_state(resumed)
    assert ours["global_step"] == expected["global_step"]
    assert_same_tensors(ours["state_dict"], expected["state_dict"])
    assert_same_tensors(ours["optimizer"], expected["optimizer"])
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
    with pytest.raises(CheckpointError, match=r"ckpt_path=last: no run under .* has "
                                              r"checkpoints/last\.ckpt"):
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


def test_sigusr1_saves_last_checkpoint_and_stops(compose_train, small_text, tmp_path):
    run_dir = tmp_path / "usr1"
    cfg = compose_in(compose_train, run_dir, *tiny_run(small_text),
                     "+callbacks.fault._target_=tests.helpers.faults.SignalAt",
                     "+callbacks.fault.step=9",
                     f"+callbacks.fault.signum={int(signal.SIGUSR1)}")
    with pytest.raises(SystemExit):  # Lightning's SIGTERMException, after the checkpoint
        train(cfg)
    assert read_checkpoint(run_dir / "checkpoints" / "last.ckpt")["global_step"] == 10
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL  # handler given back


def sequences_run(path: Path, *extra: str) -> list[str]:
    """:func:`tiny_run`'s settings on labelled sequences (``path``: an .npz of 40): two epochs
    of 6 batches of 4 drawn by the resumable sampler."""
    base = [o for o in tiny_run(path, *extra) if not o.startswith("data")]
    return ["data=sequences", f"data.path={path}", "data.batch_size=4", "data.val_fraction=0.2",
            "data.test_fraction=0.2", *base]


@pytest.mark.slow
def test_labelled_sequences_killed_mid_epoch_resume_to_the_same_weights(compose_train,
                                                                        tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    data = tmp_path / "seqs.npz"
    labels = np.arange(40) % 3
    np.savez(data, inputs=rng.normal(size=(40, 7, 2)).astype("float32") + labels[:, None, None],
             lengths=rng.integers(3, 8, size=40), labels=labels)
    reference = tmp_path / "reference"
    train(compose_in(compose_train, reference, *sequences_run(data)))
    expected = final_state(reference)
    assert expected["global_step"] == 12

    killed = tmp_path / "killed"
    assert killed_run(data, killed, 10, signal.SIGKILL, sequences_run) == -signal.SIGKILL
    assert read_checkpoint(killed / "checkpoints" / "last.ckpt")["global_step"] == 8
    resumed = tmp_path / "resumed"
    train(compose_in(compose_train, resumed, *sequences_run(data), f"ckpt_path={killed}"))
    ours = final_state(resumed)
    assert_same_tensors(ours["state_dict"], expected["state_dict"])
    assert_same_tensors(ours["optimizer"], expected["optimizer"])


def test_the_batch_that_spends_max_time_writes_last_ckpt(tmp_path):
    """With trainer.max_time, the batch after which no time remains saves last.ckpt; one with
    time left does not (the clock is Lightning's Timer, found when the fit starts)."""
    from types import SimpleNamespace

    from lightning.pytorch.callbacks import Timer

    from seqlstm.callbacks import PreemptionCheckpoint

    saved: list[str] = []
    timer = Timer(duration="00:00:01:00")
    trainer = SimpleNamespace(callbacks=[timer], received_sigterm=False, max_steps=-1,
                              global_step=5, world_size=1, checkpoint_callback=None,
                              default_root_dir=str(tmp_path), save_checkpoint=saved.append,
                              _accelerator_connector=SimpleNamespace(cluster_environment=None))
    callback = PreemptionCheckpoint()
    callback.on_train_start(trainer, None)
    try:
        for left, expected in ((30.0, []), (0.0, [tmp_path / "checkpoints" / "last.ckpt"])):
            timer.time_remaining = lambda stage="train", left=left: left
            callback.on_train_batch_end(trainer, None, None, None, 0)
            assert saved == expected
    finally:
        callback.on_train_end(trainer, None)  # gives SIGUSR1 back
