"""Scale-out pieces that need no cluster and no database server: the Slurm launcher's checks
against ``sinfo``, the SLURM save-and-requeue at a batch boundary (with ``scontrol`` faked),
and the sweeper's handling of command-line sweeps, grid exhaustion and retries. (The same
against a real Slurm cluster and PostgreSQL server: test_slurm.py, test_postgres_sweep.py.)"""

from __future__ import annotations

import signal

import optuna
import pytest
from optuna.trial import TrialState

from hydra_plugins.seqlstm_optuna_sweeper.seqlstm_optuna_sweeper import SeqlstmOptunaSweeper
from seqlstm.cli.train import train
from seqlstm.distributed import slurm
from seqlstm.errors import ConfigError
from seqlstm.sweep import distributions
from seqlstm.sweep.sweeper import _tell_study
from seqlstm.tasks import read_checkpoint
from tests.helpers.reliability import compose_in, tiny_run


@pytest.mark.parametrize(("value", "count"), [
    (None, 0), (0, 0), (2, 2), ("2", 2), ("a100:2", 2), ("gpu:a100:2(S:0)", 2), ("gpu:1", 1),
    ("gpu", 1), ("(null)", 0), ("mps:4", 4), ("gpu:2,gpu:a100:1", 3), (True, 0),
])
def test_gpus_are_counted_from_launcher_values_and_node_gres(value, count):
    assert slurm.gpus(value) == count


@pytest.fixture
def cluster(monkeypatch):
    """sinfo as on a cluster with a CPU partition (the default) and a GPU one."""
    monkeypatch.setattr(slurm, "partition_gres", lambda: (
        {"cpu": ["(null)"], "gpu": ["gpu:a100:4(S:0-1)", "(null)"]}, "cpu"))


@pytest.mark.parametrize(("params", "message"), [
    ({"partition": "nope"}, "config key 'hydra.launcher.partition' must be a partition of this "
                            "cluster, one of ['cpu', 'gpu'], got 'nope'"),
    ({"partition": None, "gpus_per_node": 1},
     "config key 'hydra.launcher.gpus_per_node' must be 0 or null: the nodes of partition 'cpu' "
     "have no GPUs (train on CPU: trainer.accelerator=cpu), got 1"),
    ({"partition": "cpu", "gres": "gpu:2"}, "config key 'hydra.launcher.gres' must be 0 or "
                                            "null: the nodes of partition 'cpu' have no GPUs"),
])
def test_a_launcher_request_the_cluster_cannot_run_is_refused(cluster, params, message):
    with pytest.raises(ConfigError) as err:
        slurm.check_request(params)
    assert str(err.value).startswith(message)


def test_a_launcher_request_the_cluster_can_run_passes(cluster):
    slurm.check_request({"partition": "gpu", "gpus_per_node": 4})
    slurm.check_request({"partition": None, "gpus_per_node": 0, "gres": None})


def test_the_slurm_launcher_needs_slurm(monkeypatch):
    monkeypatch.setattr(slurm.shutil, "which", lambda name: None)
    with pytest.raises(ConfigError, match="Slurm's sinfo is not installed here"):
        slurm.partition_gres()


def test_under_slurm_the_requeue_signal_saves_at_a_batch_boundary_and_requeues(
        compose_train, small_text, tmp_path, monkeypatch):
    """Lightning's SLURMEnvironment with a faked ``scontrol``: USR1 during step 9 gives
    hpc_ckpt_1.ckpt after step 9 (global step 10), one ``scontrol requeue <job>``, and a stop."""
    from lightning.pytorch.trainer.connectors import signal_connector

    for name, value in {"SLURM_NTASKS": "1", "SLURM_JOB_NAME": "seqlstm", "SLURM_JOB_ID": "77",
                        "SLURM_NODELIST": "localhost", "SLURM_PROCID": "0",
                        "SLURM_LOCALID": "0", "SLURM_NODEID": "0"}.items():
        monkeypatch.setenv(name, value)
    calls = []
    monkeypatch.setattr(signal_connector, "call", lambda cmd, **kw: calls.append(cmd) or 0)
    run_dir = tmp_path / "run"
    cfg = compose_in(compose_train, run_dir, *tiny_run(small_text),
                     "+callbacks.fault._target_=tests.helpers.faults.SignalAt",
                     "+callbacks.fault.step=9",
                     f"+callbacks.fault.signum={int(signal.SIGUSR1)}")
    with pytest.raises(SystemExit):  # Lightning's SIGTERMException, after the requeue
        train(cfg)
    assert calls == [["scontrol", "requeue", "77"]]
    assert read_checkpoint(run_dir / "hpc_ckpt_1.ckpt")["global_step"] == 10
    # the periodic last.ckpt (every 4 steps) is untouched: under SLURM the save is the hpc one
    assert read_checkpoint(run_dir / "checkpoints" / "last.ckpt")["global_step"] == 8
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL  # handlers given back


def sweeper(**changes) -> SeqlstmOptunaSweeper:
    settings = {"study_name": "s", "storage": None, "direction": "minimize", "n_trials": 4,
                "n_jobs": 1, "sampler": None, "pruner": None, "params": {},
                "heartbeat_interval": 60, "grace_period": None, **changes}
    return SeqlstmOptunaSweeper(**settings)


def test_command_line_sweeps_join_the_search_space():
    fixed, swept = sweeper()._split(["model.encoder.num_layers=1,2", "seed=3",
                                     "model.optimizer.lr=interval(0.001, 0.01)"])
    assert fixed == {"seed": "seed=3"}
    assert swept == {"model.encoder.num_layers": "1,2",
                     "model.optimizer.lr": "interval(0.001, 0.01)"}
    space = distributions(swept)
    assert space["model.encoder.num_layers"].choices == (1, 2)
    assert (space["model.optimizer.lr"].low, space["model.optimizer.lr"].high) == (0.001, 0.01)


def test_the_last_grid_point_is_recorded_although_the_grid_sampler_stops_the_study():
    space = {"x": optuna.distributions.CategoricalDistribution([1, 2])}
    study = optuna.create_study(sampler=optuna.samplers.GridSampler({"x": [1, 2]}, seed=0))
    for _ in range(2):
        trial = study.ask(space)
        _tell_study(study, trial, float(trial.params["x"]))  # the second calls study.stop()
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    assert study.best_value == 1.0


def test_retry_failed_must_be_a_count():
    with pytest.raises(ConfigError, match=r"'hydra.sweeper.retry_failed' must be an integer "
                                          r">= 0, got -1"):
        sweeper(retry_failed=-1)._sweep([])
