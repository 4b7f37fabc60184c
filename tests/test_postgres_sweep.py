"""Optuna sweep workers sharing one study in a real PostgreSQL server
(tests/helpers/postgres_server.py):
one worker is killed in the middle of a trial, the heartbeat fails it and queues it again, a
third worker joins, and the study ends as one worker's would: every grid point once, the same
best value. (The same on sqlite: tests/test_scale_runs.py.) Skipped where no server can start."""

from __future__ import annotations

import itertools
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
from optuna.trial import TrialState

from seqlstm.sweep.study import open_storage
from tests.conftest import REPO_ROOT, run_cli
from tests.helpers.postgres_server import PostgresServer, unavailable

pytestmark = pytest.mark.slow
GRID = {"model.encoder.hidden_size": [8, 16], "model.optimizer.lr": [0.003, 0.01]}
METRIC = re.compile(r"optimized metric val/loss = ([0-9.e+-]+)")


@pytest.fixture(scope="module")
def postgres():
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    server = PostgresServer().start()
    yield server
    server.stop()


def sweep_worker(cwd: Path, text: Path, storage: str, study: str) -> subprocess.Popen:
    """``seqlstm-train -m`` over GRID (a grid search: its result does not depend on how the
    workers share it), heartbeat every second, a dead worker's trial run again once."""
    args = [f"data.path={text}", "data=char", "data.seq_len=16", "data.windows_per_epoch=64",
            "data.batch_size=16", "model.embedding_dim=8", "model.encoder.output_dropout=0.0",
            "trainer.max_epochs=2", "trainer.enable_progress_bar=false", "callbacks=none",
            "seed=1234", "hparams_search=lm_optuna",
            *(f"{key}={','.join(map(str, values))}" for key, values in GRID.items()),
            f"hydra.sweeper.storage='{storage}'", f"hydra.sweeper.study_name={study}",
            # a mapping given here merges into the search config's: drop TPE's own key
            "hydra.sweeper.sampler._target_=optuna.samplers.GridSampler",
            "hydra.sweeper.sampler.seed=0", "~hydra.sweeper.sampler.n_startup_trials",
            "hydra.sweeper.pruner=null", "hydra.sweeper.n_trials=4",
            "hydra.sweeper.heartbeat_interval=1", "hydra.sweeper.grace_period=3",
            "hydra.sweeper.retry_failed=1"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1",
           "HYDRA_FULL_ERROR": "1"}
    return subprocess.Popen([sys.executable, "-m", "seqlstm.cli.train", "-m", *args], cwd=cwd,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(worker: subprocess.Popen) -> str:
    output = worker.communicate(timeout=300)[0]
    assert worker.returncode == 0, output[-4000:]
    return output


def running_trial_of(study: optuna.Study, worker: subprocess.Popen) -> bool:
    name = f"{socket.gethostname()}:{worker.pid}"
    return any(t.state == TrialState.RUNNING and t.user_attrs.get("worker") == name
               for t in study.get_trials(deepcopy=False))


def test_workers_share_a_postgres_study_and_a_killed_one_is_retried(postgres, small_text,
                                                                    tmp_path):
    storage = postgres.url
    single, first, second = (sweep_worker(tmp_path, small_text, storage, study)
                             for study in ("single", "shared", "shared"))
    workers = [single, first, second]
    try:
        watch = open_storage(storage)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # kill the first worker in the middle of a trial
            try:
                study = optuna.load_study(study_name="shared", storage=watch)
                if running_trial_of(study, first):
                    break
            except KeyError:  # not created yet
                pass
            assert first.poll() is None, first.communicate()[0][-3000:]
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.wait()
        watch.engine.dispose()
        third = sweep_worker(tmp_path, small_text, storage, "shared")
        workers.append(third)
        outputs = [finish(worker) for worker in (single, second, third)]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()

    reference = optuna.load_study(study_name="single", storage=storage)
    trials = optuna.load_study(study_name="shared", storage=storage).get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert len(trials) == 5 and len(complete) == 4 and len(failed) == 1, \
        [(t.number, t.state.name) for t in trials]
    killed = failed[0]
    assert "error" not in killed.user_attrs  # failed by the heartbeat, not by its job
    retried = [t for t in complete if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retried) == 1 and retried[0].params == killed.params
    grid = [dict(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())]
    assert sorted(sorted(t.params.items()) for t in complete) == sorted(  # each point once
        sorted(point.items()) for point in grid)
    assert retried[0].user_attrs["worker"] != killed.user_attrs["worker"]
    assert "study 'shared' in " in outputs[2] and "best value " in outputs[2]  # third joined
    assert [t.state for t in reference.trials] == [TrialState.COMPLETE] * 4
    assert min(t.value for t in complete) == reference.best_value
    assert optuna.load_study(study_name="shared", storage=storage).best_params == \
        reference.best_params
    folders = tmp_path / "logs" / "train" / "sweeps" / "shared"
    for trial in complete:  # one run each, one result in its log
        assert len(METRIC.findall((folders / f"trial_{trial.number}" / "train.log")
                                  .read_text())) == 1


def test_a_postgres_server_that_cannot_be_reached_stops_the_sweep(tmp_path):
    pytest.importorskip("psycopg")
    url = f"postgresql+psycopg://optuna@/optuna?host={tmp_path / 'no-server'}"
    result = run_cli("train", "-m", "hparams_search=lm_optuna",
                     f"hydra.sweeper.storage='{url}'", cwd=tmp_path, check=False)
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: config key 'hydra.sweeper.storage' must be a database URL "
                           "that opens ((psycopg.OperationalError) connection ")
    assert line.endswith(f"No such file or directory), got '{url}'")
    assert not (tmp_path / "logs").exists()
