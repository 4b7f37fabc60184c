"""Slurm end to end on a local one-node cluster (tests/helpers/slurm_cluster.py): a training job
is sent
what Slurm sends before a time limit or on preemption, saves at a batch boundary, is requeued,
resumes from its own checkpoint and ends bitwise equal to an uninterrupted run; the same for
each trial of a multirun through ``hydra/launcher=slurm``; requests the cluster cannot run are
refused in one line. Skipped where the cluster cannot start (not root, Slurm not installed)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from seqlstm.cli.train import train
from seqlstm.tasks import read_checkpoint
from tests.conftest import REPO_ROOT
from tests.helpers.reliability import assert_same_tensors, compose_in, final_state, tiny_run
from tests.helpers.slurm_cluster import PARTITION, SlurmCluster, unavailable

pytestmark = pytest.mark.slow
SCRIPT = REPO_ROOT / "examples" / "slurm" / "train.sbatch"
#: the global step at whose start the job waits for its signal (of 12, 6 an epoch: mid-epoch 2)
PAUSE_AT = 8
DONE = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY")


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm")).start()
    yield cluster
    cluster.stop()


def job_env(slurm: SlurmCluster, bin_dir: Path) -> dict[str, str]:
    """What a job needs: ``seqlstm-train`` of this checkout and this Python first on PATH (an
    installed console script may belong to another checkout), one thread."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "seqlstm-train"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m seqlstm.cli.train "$@"\n')
    script.chmod(0o755)
    path = os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])
    return {**slurm.env, "PYTHONPATH": str(REPO_ROOT), "PATH": path, "OMP_NUM_THREADS": "1",
            "HYDRA_FULL_ERROR": "1"}


def paused(folder: str) -> list[str]:
    """Overrides that make the run wait at step PAUSE_AT for its signal, with ``paused`` in
    ``folder`` as the sign, and record the steps it trains in ``folder/steps``
    (tests/helpers/faults.py)."""
    return ["+callbacks.fault._target_=tests.helpers.faults.PauseAt",
            f"+callbacks.fault.step={PAUSE_AT}",
            f"+callbacks.fault.marker={folder}/paused",
            "+callbacks.steps._target_=tests.helpers.faults.RecordSteps",
            f"+callbacks.steps.path={folder}/steps"]


def wait_for_file(path: Path, timeout: float, slurm: SlurmCluster,
                  failed: Callable[[], str | None]) -> None:
    """Wait until ``path`` exists; ``failed()`` says why it never will (a job that ended)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        reason = failed()
        if reason:
            raise AssertionError(f"gave up waiting for {path}: {reason}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear in {timeout} s; queue:\n"
                               f"{slurm.run('squeue')}\n{slurm.log_tail()}")
        time.sleep(0.2)


def requeued(slurm: SlurmCluster, job: str) -> None:
    """Wait until ``job`` is requeued, then lift its time limit so that the restarted job gets
    no second time-limit signal. Slurm restarts it by itself: the cluster holds a requeued job
    for ``cred_expire`` + 1 s (120 + 1 s by default) and its scheduler passes every second.
    (Lifting the hold with ``StartTime=now`` can restart it within the second of its requeue,
    when the node refuses the new credential as revoked and the job fails.)"""
    deadline = time.monotonic() + 60
    while slurm.job_field(job, "Restarts") != "1":
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job} was not requeued:\n{slurm.log_tail()}")
        time.sleep(0.3)
    slurm.run("scontrol", "update", f"JobId={job}", "TimeLimit=30")


def uninterrupted(compose_train, text: Path, folder: Path, *extra: str) -> dict:
    train(compose_in(compose_train, folder, *tiny_run(text, *extra)))
    return final_state(folder)


def assert_resumed_exactly(run_dir: Path, steps: Path, expected: dict) -> None:
    """The run saved hpc_ckpt_1 at the end of step PAUSE_AT, its second attempt trained the
    steps after it (each step once over both attempts: resumed, not restarted), and it ended
    bitwise equal to the uninterrupted run."""
    assert steps.read_text().split() == [str(step) for step in range(12)]
    hpc = read_checkpoint(run_dir / "hpc_ckpt_1.ckpt")
    assert hpc["global_step"] == PAUSE_AT + 1
    assert not (run_dir / "hpc_ckpt_2.ckpt").exists()
    ours = final_state(run_dir)
    assert ours["global_step"] == expected["global_step"] == 12
    assert_same_tensors(ours["state_dict"], expected["state_dict"])
    assert_same_tensors(ours["optimizer"], expected["optimizer"])


@pytest.mark.parametrize("interruption", ["time_limit", "preemption"])
def test_an_sbatch_job_is_requeued_and_resumes_to_the_same_weights(slurm, interruption,
                                                                   compose_train, small_text,
                                                                   tmp_path):
    """The docs' sbatch script. time_limit: a 3-minute limit with --signal=USR1@140, so Slurm
    itself sends USR1 (its timer ticks every 30 s: 40-70 s in); Lightning requeues. preemption:
    ``scontrol requeue`` while it runs, which is what a preempting job does (SIGTERM, then
    requeue)."""
    expected = uninterrupted(compose_train, small_text, tmp_path / "reference")
    work, marker = tmp_path / "work", tmp_path / "paused"
    work.mkdir()
    limits = ["--time=3", "--signal=USR1@140"] if interruption == "time_limit" else []
    job = slurm.run("sbatch", "--parsable", f"--chdir={work}", "--cpus-per-task=1", *limits,
                    str(SCRIPT), *tiny_run(small_text), *paused(str(tmp_path)),
                    env=job_env(slurm, tmp_path / "bin")).strip()
    output = work / f"slurm-{job}.out"

    def ended() -> str | None:
        if slurm.job_field(job, "JobState") in DONE:
            return f"job {job} ended:\n" + output.read_text()[-3000:]
        return None

    wait_for_file(marker, 120, slurm, ended)
    if interruption == "preemption":
        slurm.run("scontrol", "requeue", job)
    requeued(slurm, job)
    state = slurm.wait_for(job, DONE, timeout=120)
    assert state == "COMPLETED", output.read_text()[-3000:]
    assert slurm.job_field(job, "Restarts") == "1"
    assert_resumed_exactly(work / "logs" / "train" / "runs" / f"slurm-{job}",
                           tmp_path / "steps", expected)


def test_multirun_trials_on_the_slurm_launcher_each_requeue_on_their_own(slurm, compose_train,
                                                                         small_text, tmp_path):
    """Two grid points as a job array through hydra/launcher=slurm; ``scancel --signal=USR1``
    to each task while it waits at step 5; each saves, requeues itself (Lightning, array task
    id) and resumes in its own folder, ending equal to its own uninterrupted run."""
    sizes = (16, 24)
    expected = {size: uninterrupted(compose_train, small_text, tmp_path / f"ref-{size}",
                                    f"model.encoder.hidden_size={size}") for size in sizes}
    sweep = tmp_path / "sweep"
    overrides = [*(o for o in tiny_run(small_text) if not o.startswith("model.encoder.hidden")),
                 "model.encoder.hidden_size=" + ",".join(map(str, sizes)),
                 *paused("${paths.output_dir}"), "hydra/launcher=slurm",
                 f"hydra.launcher.partition={PARTITION}", "hydra.launcher.gpus_per_node=0",
                 "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=null",
                 "hydra.launcher.timeout_min=30", f"hydra.sweep.dir={sweep}"]
    launcher = subprocess.Popen(slurm.command(sys.executable, "-m", "seqlstm.cli.train", "-m",
                                              *overrides),
                                cwd=tmp_path, env=job_env(slurm, tmp_path / "bin"),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def ended() -> str | None:
        if launcher.poll() is not None:
            return f"the launcher ended:\n{launcher.stdout.read()[-3000:]}"
        return None

    try:
        for number in range(len(sizes)):
            wait_for_file(sweep / str(number) / "paused", 150, slurm, ended)
        tasks = slurm.run("squeue", "--noheader", "--format=%i").split()
        assert len(tasks) == len(sizes), tasks
        for task in tasks:
            slurm.run("scancel", "--signal=USR1", task)
        for task in tasks:
            requeued(slurm, task)
        output = launcher.communicate(timeout=180)[0]
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
    assert launcher.returncode == 0, output[-4000:]
    for task in tasks:  # submitit writes a task's result just before its job ends
        assert slurm.wait_for(task, DONE, timeout=30) == "COMPLETED", task
        assert slurm.job_field(task, "Restarts") == "1", task
    for number, size in enumerate(sizes):
        assert_resumed_exactly(sweep / str(number), sweep / str(number) / "steps",
                               expected[size])


@pytest.mark.parametrize(("overrides", "line"), [
    (["hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=0"],
     "error: config key 'hydra.launcher.partition' must be a partition of this cluster, one "
     f"of ['{PARTITION}'], got 'gpu'"),
    ([f"hydra.launcher.partition={PARTITION}", "hydra.launcher.gpus_per_node=2"],
     "error: config key 'hydra.launcher.gpus_per_node' must be 0 or null: the nodes of "
     f"partition '{PARTITION}' have no GPUs (train on CPU: trainer.accelerator=cpu), got 2"),
])
def test_a_request_the_cluster_cannot_run_is_refused_before_any_job(slurm, overrides, line,
                                                                    tmp_path):
    result = subprocess.run(slurm.command(
        sys.executable, "-m", "seqlstm.cli.train", "-m", "hydra/launcher=slurm",
        "model.encoder.hidden_size=16,24", *overrides), cwd=tmp_path,
        env=job_env(slurm, tmp_path / "bin"),
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1] == line
    assert not slurm.run("squeue", "--noheader").strip()
