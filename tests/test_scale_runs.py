"""Scaling out, end to end: two CPU ranks from the CLI, two torchrun "nodes" on localhost, and
Optuna sweep workers sharing one sqlite study. Tiny models and data keep each run short."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from seqlstm.cli.evaluate import evaluate
from seqlstm.cli.train import train
from seqlstm.data import CharDataModule
from seqlstm.data.text.windows import CoveringWindows
from seqlstm.sweep import distributions, grid_space, open_study
from seqlstm.sweep.study import open_storage
from tests.conftest import REPO_ROOT, run_cli

pytestmark = pytest.mark.slow
GLOBAL_BATCH = 16
METRIC = re.compile(r"optimized metric val/loss = ([0-9.e+-]+)")


def common(text: Path) -> list[str]:
    return [f"data.path={text}", "data=char", "data.seq_len=16", "data.windows_per_epoch=96",
            "model.encoder.hidden_size=16", "model.embedding_dim=8", "trainer.max_epochs=2",
            "trainer.enable_progress_bar=false", "test=false", "sample.length=0", "seed=1234"]


QUIET = ["~callbacks.rich_progress_bar", "~callbacks.lr_monitor"]


@pytest.fixture
def single_process_val_loss(compose_train, small_text):
    """val/loss of one process with the whole global batch; the val split shards evenly."""
    data = CharDataModule(str(small_text), seq_len=16)
    data.setup()
    assert len(CoveringWindows(data.ids["val"], 16)) % 2 == 0  # no padding by DistributedSampler
    cfg = compose_train(*common(small_text), f"data.batch_size={GLOBAL_BATCH}", "logger=[]",
                        "callbacks=none")
    return train(cfg)["val/loss"]


def rank_metrics(run: Path) -> dict[str, float]:
    """The optimised metric each rank's log reports, by log file name."""
    return {log.name: float(METRIC.search(log.read_text()).group(1))
            for log in sorted(run.glob("*.log"))}


def test_ddp_cpu_from_the_cli_matches_one_process(tmp_path, small_text, compose_train,
                                                  single_process_val_loss):
    run_cli("train", "trainer=ddp_cpu", *common(small_text), *QUIET,
            f"data.batch_size={GLOBAL_BATCH // 2}", cwd=tmp_path)
    runs = list((tmp_path / "logs" / "train" / "runs").iterdir())
    assert len(runs) == 1  # one output folder for both ranks
    run = runs[0]
    # an epoch is 96 windows in all: 2 ranks x 48, 6 steps of 2 x 8 (as 6 steps of 16 in one)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "epoch001-step000012.ckpt", "last.ckpt"]
    assert sorted(p.name for p in (run / ".hydra").iterdir()) == [
        "config.yaml", "hydra.yaml", "overrides.yaml"]
    metrics = rank_metrics(run)
    assert list(metrics) == ["train.log", "train_ddp_process_1.log"]
    assert metrics["train.log"] == metrics["train_ddp_process_1.log"]  # every rank returns it
    ddp = metrics["train.log"]
    # the synced epoch loss is exactly the single-process loss of the same weights...
    cfg = compose_train(f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}", "split=val",
                        config_name="eval")
    assert evaluate(cfg)["val/loss"] == pytest.approx(ddp, rel=1e-6)
    # ...and training on 2 x 8 windows per step ends where 1 x 16 does, up to the windows drawn
    assert ddp == pytest.approx(single_process_val_loss, rel=0.02)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_torchrun_nodes_on_localhost_match_one_process(tmp_path, small_text,
                                                           single_process_val_loss):
    run_dir, port = tmp_path / "torchrun", free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    nodes = [subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
         "--node-rank", str(rank), "--master-addr", "127.0.0.1", "--master-port", str(port),
         "-m", "seqlstm.cli.train", "trainer=multinode", "trainer.accelerator=cpu",
         "trainer.devices=1", "trainer.num_nodes=2", *common(small_text), *QUIET,
         f"data.batch_size={GLOBAL_BATCH // 2}", f"hydra.run.dir={run_dir}"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for rank in (0, 1)]
    outputs = [node.communicate(timeout=600)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    metrics = rank_metrics(run_dir)
    assert list(metrics) == ["rank_1.log", "train.log"]  # node 1 wrote its log, not .hydra
    assert metrics["train.log"] == metrics["rank_1.log"]
    assert metrics["train.log"] == pytest.approx(single_process_val_loss, rel=0.02)
    assert len(list((run_dir / "checkpoints").iterdir())) == 2


SWEEP = ["hparams_search=lm_optuna", "hydra.sweeper.study_name=shared",
         "hydra.sweeper.heartbeat_interval=1", "hydra.sweeper.grace_period=3",
         "hydra.sweeper.pruner.n_startup_trials=2", "trainer.max_epochs=3", "callbacks=none"]


def sweep_worker(cwd: Path, text: Path, n_trials: int) -> subprocess.Popen:
    args = [*common(text), "data.batch_size=16", *SWEEP, f"hydra.sweeper.n_trials={n_trials}"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1",
           "HYDRA_FULL_ERROR": "1"}
    return subprocess.Popen([sys.executable, "-m", "seqlstm.cli.train", "-m", *args], cwd=cwd,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_two_sweep_workers_share_one_study_and_a_killed_one_resumes(tmp_path, small_text):
    n_trials = 4
    database = tmp_path / "logs" / "optuna.db"
    storage = f"sqlite:///{database}"
    first, second = sweep_worker(tmp_path, small_text, n_trials), \
        sweep_worker(tmp_path, small_text, n_trials)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:  # kill the first worker once two trials are done
        time.sleep(1)
        if not database.exists():
            continue
        try:  # open_storage takes the workers' lock: they may be creating the tables
            study = optuna.load_study(study_name="shared", storage=open_storage(storage))
        except KeyError:
            continue
        if sum(t.state.is_finished() for t in study.get_trials(deepcopy=False)) >= 2:
            break
    first.send_signal(signal.SIGKILL)
    first.wait()
    restarted = sweep_worker(tmp_path, small_text, n_trials)
    for worker in (second, restarted):
        output = worker.communicate(timeout=600)[0]
        assert worker.returncode == 0, output[-4000:]

    trials = optuna.load_study(study_name="shared", storage=storage).get_trials()
    done = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    killed = [t for t in trials if t.state.name == "FAIL"]
    assert len(done) == n_trials                      # the budget, exactly
    assert len(killed) <= 1 and all("error" not in t.user_attrs for t in killed)
    assert len({t.user_attrs["worker"] for t in done}) >= 2  # both live workers took trials
    sweep_dir = tmp_path / "logs" / "train" / "sweeps" / "shared"
    for trial in done:  # one folder per trial, run once: one .hydra, one result in its log
        folder = sweep_dir / f"trial_{trial.number}"
        assert (folder / ".hydra" / "overrides.yaml").is_file()
        assert len(METRIC.findall((folder / "train.log").read_text())) == 1
    summary = (sweep_dir / "optimization_results.yaml").read_text()
    assert "name: shared" in summary and "best_params:" in summary
    rows = (sweep_dir / "trials.csv").read_text().splitlines()
    assert len(rows) == 1 + len(trials)


def test_a_worker_that_died_before_its_first_heartbeat_holds_up_no_one(tmp_path, small_text):
    """A worker killed between asking for a trial and its first heartbeat leaves a RUNNING
    trial that has none (asked here, never beaten for). The live worker gives it a heartbeat,
    fails it after the grace period, runs it again and ends, instead of waiting for ever."""
    storage = f"sqlite:///{tmp_path / 'logs' / 'optuna.db'}"
    space = distributions({"model.encoder.hidden_size": "8,16"})
    study = open_study("orphan", open_storage(storage, 1, 2, 1), "minimize",
                       optuna.samplers.GridSampler(grid_space(space), seed=0))
    orphan = study.ask(space)
    args = [*(o for o in common(small_text) if not o.startswith("model.encoder.hidden")),
            "data.batch_size=16", "callbacks=none", "hparams_search=lm_optuna",
            "model.encoder.hidden_size=8,16", "model.optimizer.lr=0.003",
            "model.encoder.output_dropout=0.0",
            f"hydra.sweeper.storage='{storage}'", "hydra.sweeper.study_name=orphan",
            "hydra.sweeper.sampler._target_=optuna.samplers.GridSampler",
            "hydra.sweeper.sampler.seed=0", "~hydra.sweeper.sampler.n_startup_trials",
            "hydra.sweeper.pruner=null", "hydra.sweeper.n_trials=2",
            "hydra.sweeper.heartbeat_interval=1", "hydra.sweeper.grace_period=2",
            "hydra.sweeper.retry_failed=1"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    worker = subprocess.run([sys.executable, "-m", "seqlstm.cli.train", "-m", *args],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert worker.returncode == 0, worker.stderr[-4000:]
    trials = optuna.load_study(study_name="orphan", storage=storage).get_trials()
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE", "COMPLETE"]
    assert "error" not in trials[0].user_attrs  # failed for its heartbeat, not by a job
    assert trials[2].params == orphan.params != trials[1].params
    assert trials[2].system_attrs["failed_trial"] == orphan.number


def test_a_storage_that_cannot_be_opened_stops_the_sweep_before_any_trial(tmp_path):
    result = run_cli("train", "-m", "hparams_search=lm_optuna",
                     "hydra.sweeper.storage=nosuchdb://host/optuna", cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: config key 'hydra.sweeper.storage' must be a database URL that opens (Can't "
        "load plugin: sqlalchemy.dialects:nosuchdb), got 'nosuchdb://host/optuna'")
    assert not (tmp_path / "logs").exists()
