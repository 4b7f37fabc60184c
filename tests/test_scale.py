"""Scaling out, fast checks: trainer and launcher configs, bad input refused before training,
per-rank threads, disjoint shards, search spaces and storages. (Runs with several processes
are in test_scale_runs.py.)"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.fabric.utilities.distributed import DistributedSamplerWrapper
from omegaconf import open_dict, read_write
from optuna.trial import TrialState

from seqlstm.cli.train import train
from seqlstm.configs import config_dir
from seqlstm.data.streams import ResumableRandomSampler
from seqlstm.distributed import ThreadsPerRank, rank_overrides, usable_cores
from seqlstm.errors import ConfigError
from seqlstm.sweep import (
    OptunaPruning,
    distributions,
    grid_space,
    open_study,
    trial_budget_used,
    write_summary,
)
from seqlstm.sweep.pruning import build_pruner
from seqlstm.sweep.study import PRUNER_ATTR, open_storage
from tests.conftest import FAST

TRAINERS = sorted(p.stem for p in (config_dir() / "trainer").glob("*.yaml"))
PRECISIONS = sorted(p.stem for p in (config_dir() / "trainer" / "precision").glob("*.yaml"))


def small_run(small_text: Path) -> list[str]:
    return [f"data.path={small_text}", "data=char", "data.seq_len=16", "data.batch_size=8",
            "model.encoder.hidden_size=16", "logger=[]", "callbacks=none", *FAST]


#: what the distributed and deterministic presets set (checked where each is composed)
PRESETS = {"ddp_cpu": {"accelerator": "cpu", "devices": 2, "strategy": "ddp"},
           "multinode": {"num_nodes": 2}, "ddp_spawn": {"strategy": "ddp_spawn"},
           "deterministic": {"deterministic": True}}


@pytest.mark.parametrize("name", TRAINERS)
def test_every_trainer_config_composes(name, compose_train):
    cfg = compose_train(f"trainer={name}")
    assert cfg.trainer._target_ == "lightning.pytorch.Trainer"
    assert {key: cfg.trainer[key] for key in PRESETS.get(name, {})} == PRESETS.get(name, {})


@pytest.mark.parametrize("precision", PRECISIONS)
def test_precision_presets_compose_with_ddp(compose_train, precision):
    assert set(PRECISIONS) == {"32-true", "bf16-mixed", "16-mixed"}
    cfg = compose_train("trainer=ddp_cpu", f"trainer/precision={precision}")
    assert str(cfg.trainer.precision) == precision and cfg.trainer.strategy == "ddp"


@pytest.mark.parametrize(("launcher", "target", "key", "value"), [
    ("local_parallel", "hydra_joblib_launcher.joblib_launcher.JoblibLauncher", "n_jobs", 2),
    ("slurm", "seqlstm_slurm_launcher.seqlstm_slurm_launcher.SeqlstmSlurmLauncher",
     "tasks_per_node", 1),
])
def test_launcher_configs_compose(launcher, target, key, value):
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("train", overrides=["hparams_search=lm_optuna",
                                          f"hydra/launcher={launcher}"],
                      return_hydra_config=True)
    assert cfg.hydra.launcher._target_ == f"hydra_plugins.{target}"
    assert cfg.hydra.launcher[key] == value
    assert cfg.hydra.sweeper._target_.endswith("SeqlstmOptunaSweeper")


@pytest.mark.parametrize(("overrides", "message"), [
    (["trainer.devices=" + str(usable_cores() + 1)],
     f"config key 'trainer.devices' must be at most {usable_cores()} (CPU cores, one process "
     f"each available here), got {usable_cores() + 1}"),
    (["+trainer.strategy=ddp_magic"], "config key 'trainer.strategy' must be one of ['auto', "),
    (["trainer=gpu"] if not torch.cuda.is_available() else ["trainer.devices=99",
                                                            "trainer=gpu"],
     "config key 'trainer.accelerator' must be cpu or auto: no CUDA GPU is visible here"
     if not torch.cuda.is_available() else "config key 'trainer.devices' must be at most"),
    (["trainer.devices=0"], "config key 'trainer.devices' must be an integer >= 1, a list of "
                            "ids, 'auto' or -1, got 0"),
])
def test_impossible_trainers_are_refused_before_training(overrides, message, compose_train,
                                                         small_text, tmp_path):
    cfg = compose_train(*small_run(small_text), *overrides)
    with pytest.raises(ConfigError) as err:
        train(cfg)
    assert str(err.value).startswith(message)
    assert not (tmp_path / "run").exists()  # nothing trained, nothing written


def test_multirun_with_relaunching_ddp_is_refused_naming_ddp_spawn(compose_train, small_text,
                                                                    tmp_path):
    cfg = compose_train(*small_run(small_text), "trainer=ddp_cpu")
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.mode = RunMode.MULTIRUN
    HydraConfig.instance().set_config(cfg)
    with pytest.raises(ConfigError, match=r"must be ddp_spawn inside a Hydra multirun \(-m\).*"
                                          r"use trainer=ddp_spawn \(on CPU: trainer=ddp_spawn "
                                          r"trainer.accelerator=cpu trainer.devices=2\), "
                                          r"got 'ddp'"):
        train(cfg)
    assert not (tmp_path / "run").exists()


@pytest.fixture
def one_thread():
    yield
    torch.set_num_threads(1)


@pytest.mark.parametrize(("threads", "ranks", "cores", "expected"), [
    (None, 2, 2, 1),   # the default never raises the count (here: 1 already)
    (None, 2, 16, 1),
    (2, 2, 4, 2),
    (1, 4, 4, 1),
])
def test_threads_per_rank(threads, ranks, cores, expected, monkeypatch, one_thread):
    monkeypatch.setattr("seqlstm.distributed.threads.usable_cores", lambda: cores)
    ThreadsPerRank(threads).setup(SimpleNamespace(num_devices=ranks), None, "fit")
    assert torch.get_num_threads() == expected


def test_threads_per_rank_refuses_oversubscription(monkeypatch):
    monkeypatch.setattr("seqlstm.distributed.threads.usable_cores", lambda: 4)
    with pytest.raises(ConfigError, match=r"'callbacks.threads_per_rank.threads' must be at "
                                          r"most 2 \(2 ranks share 4 cores here\), got 3"):
        ThreadsPerRank(3).setup(SimpleNamespace(num_devices=2), None, "fit")


def test_training_shards_are_disjoint_and_cover_one_epoch():
    sampler = ResumableRandomSampler(1000, 64, seed=7)
    epoch = list(sampler)
    shards = []
    for rank in range(2):
        rank_sampler = ResumableRandomSampler(1000, 64, seed=7)  # each rank builds its own
        shards.append(list(DistributedSamplerWrapper(rank_sampler, num_replicas=2, rank=rank,
                                                     shuffle=True, seed=0)))
    assert len(shards[0]) == len(shards[1]) == 32
    assert sorted(shards[0] + shards[1]) == sorted(epoch)  # together: exactly one epoch
    sampler.set_epoch(1)
    assert list(sampler) != epoch                          # the next epoch draws anew
    sampler.set_epoch(0)
    assert list(sampler) == epoch


@pytest.mark.parametrize(("spec", "message"), [
    ({"type": "float", "low": 0.5, "high": 0.1},
     "config key 'hydra.sweeper.params.x' must be a range with low < high (this one is empty), "
     "got 'low=0.5, high=0.1'"),
    ({"type": "int", "low": 4, "high": 4},
     "config key 'hydra.sweeper.params.x' must be a range with low < high"),
    ({"type": "categorical", "choices": []},
     "config key 'hydra.sweeper.params.x.choices' must be a non-empty list, got []"),
    ({"type": "float", "low": 0.0, "high": 1.0, "log": True},
     "config key 'hydra.sweeper.params.x.low' must be > 0 on a log scale, got 0.0"),
    ({"type": "uniform", "low": 0, "high": 1},
     "config key 'hydra.sweeper.params.x.type' must be one of ['float', 'int', 'categorical']"),
    ({"type": "int", "low": 1.5, "high": 4},
     "config key 'hydra.sweeper.params.x.low' must be an int, got 1.5"),
    ("interval(0.5, 0.1)", "config key 'hydra.sweeper.params.x' must be a range with low < high"),
])
def test_bad_search_spaces(spec, message):
    with pytest.raises(ConfigError) as err:
        distributions({"x": spec})
    assert str(err.value).startswith(message)


def test_search_space_from_config_and_hydra_sweeps():
    space = distributions({
        "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
        "hidden": {"type": "int", "low": 16, "high": 64, "step": 16},
        "cell": {"type": "categorical", "choices": ["lstm", "gru"]},
        "layers": "1,2",
        "dropout": "tag(log, interval(0.01, 0.3))",
    })
    assert space["lr"].log and (space["lr"].low, space["lr"].high) == (1e-4, 1e-2)
    assert grid_space({k: space[k] for k in ("hidden", "cell", "layers")}) == {
        "hidden": [16, 32, 48, 64], "cell": ["lstm", "gru"], "layers": [1, 2]}
    assert space["dropout"].log and space["dropout"].high == 0.3
    with pytest.raises(ConfigError, match="choices or an int range for a grid search"):
        grid_space({"lr": space["lr"]})


@pytest.mark.parametrize(("url", "message"), [
    ("nosuchdb://host/db", "config key 'hydra.sweeper.storage' must be a database URL that "
                           "opens (Can't load plugin: sqlalchemy.dialects:nosuchdb)"),
    ("sqlite:///{tmp}/a_file/optuna.db", "config key 'hydra.sweeper.storage' must be a database "
                                         "URL that opens ([Errno 17] File exists"),
])
def test_storage_that_cannot_be_opened(url, message, tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    with pytest.raises(ConfigError) as err:
        open_storage(url.format(tmp=tmp_path))
    assert str(err.value).startswith(message)


@pytest.mark.parametrize(("environ", "argv", "expected"), [
    ({}, [], []),
    ({"RANK": "0"}, [], []),
    ({"RANK": "1"}, [], ["hydra.output_subdir=null", "hydra.job.name=rank_1"]),
    ({"SLURM_NTASKS": "4", "SLURM_PROCID": "3"}, [],
     ["hydra.output_subdir=null", "hydra.job.name=rank_3"]),
    ({"SLURM_NTASKS": "1", "SLURM_PROCID": "0"}, [], []),
    ({"RANK": "1"}, ["hydra.output_subdir=null"], []),  # Lightning's own relaunch says it
])
def test_rank_overrides_for_outside_launchers(environ, argv, expected):
    assert rank_overrides(environ, argv) == expected


def fake_trainer(value: float) -> SimpleNamespace:
    return SimpleNamespace(sanity_checking=False, is_global_zero=True, current_epoch=0,
                           callback_metrics={"val/loss": torch.tensor(value)}, should_stop=False,
                           strategy=SimpleNamespace(broadcast=lambda obj, src=0: obj))


@pytest.mark.parametrize("pruner", [
    {"_target_": "optuna.pruners.MedianPruner", "n_startup_trials": 1},
    {"_target_": "optuna.pruners.HyperbandPruner", "min_resource": 1, "max_resource": 3},
])
def test_pruning_callback_reopens_its_trial_from_storage(pruner, tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = open_study("s", open_storage(url), "minimize", pruner=build_pruner(pruner))
    study.set_user_attr(PRUNER_ATTR, pruner)  # what the sweeper does: jobs prune alike
    for value in (1.0, 1.1):
        good = study.ask()
        for step in range(3):
            good.report(value, step)
        study.tell(good, value)
    number = study.ask().number
    callback = OptunaPruning({"storage": url, "study_name": "s", "number": number})
    trainer = fake_trainer(9.0)  # far worse than the finished trials at the same epoch
    callback.on_validation_end(trainer, None)
    callback.on_fit_end(trainer, None)
    trial = study.get_trials()[number]
    assert trial.intermediate_values == {0: 9.0}
    if pruner["_target_"].endswith("MedianPruner"):
        assert trainer.should_stop and callback.pruned_at == 0
        assert trial.state == TrialState.PRUNED and trial.value == 9.0


def test_pruning_callback_outside_a_sweep_does_nothing():
    callback = OptunaPruning(None)
    trainer = fake_trainer(9.0)
    callback.on_validation_end(trainer, None)
    assert not trainer.should_stop


def test_the_sweeper_records_failed_jobs_and_keeps_their_budget(tmp_path):
    from hydra.core.utils import JobReturn, JobStatus

    from hydra_plugins.seqlstm_optuna_sweeper.seqlstm_optuna_sweeper import SeqlstmOptunaSweeper

    sweeper = SeqlstmOptunaSweeper(study_name="s", storage=None, direction="minimize",
                                   n_trials=4, n_jobs=1, sampler=None, pruner=None,
                                   params={}, heartbeat_interval=60, grace_period=None)
    study = open_study("s", None, "minimize")
    raised, nan, good, killed = (study.ask() for _ in range(4))
    sweeper._tell(study, raised, JobReturn(status=JobStatus.FAILED,
                                           _return_value=ValueError("lr too high")))
    sweeper._tell(study, nan, JobReturn(status=JobStatus.COMPLETED, _return_value=float("nan")))
    sweeper._tell(study, good, JobReturn(status=JobStatus.COMPLETED, _return_value=1.5))
    study.tell(killed, state=TrialState.FAIL)  # what fail_stale_trials does to a dead worker's
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["FAIL", "FAIL", "COMPLETE", "FAIL"]
    assert trials[0].user_attrs["error"] == "ValueError: lr too high"
    assert trials[1].user_attrs["error"] == "the job returned nan, not a number"
    assert trial_budget_used(study) == 3  # the killed trial's budget goes back to the study
    write_summary(study, tmp_path)
    assert (tmp_path / "trials.csv").read_text().splitlines()[1].startswith(
        "0,FAIL,,0,")
    assert "best_value: 1.5" in (tmp_path / "optimization_results.yaml").read_text()


@pytest.mark.slow  # waits out a grace period on sqlite's whole-second clock
def test_a_trial_whose_worker_died_before_its_first_heartbeat_is_failed_and_retried(tmp_path):
    """A worker killed between asking for a trial and its first heartbeat leaves a RUNNING
    trial with no heartbeat, which Optuna never fails: the next worker to ask gives it one, so
    it fails once the grace period passes and its retry is taken up, instead of every worker
    waiting for it for ever."""
    from hydra_plugins.seqlstm_optuna_sweeper.seqlstm_optuna_sweeper import SeqlstmOptunaSweeper

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    storage = open_storage(url, heartbeat_interval=1, grace_period=1, retry_failed=1)
    space = distributions({"model.encoder.hidden_size": "8,16"})
    study = open_study("s", storage, "minimize",
                       optuna.samplers.GridSampler(grid_space(space), seed=0))
    orphan = study.ask(space)  # the dead worker's trial
    sweeper = SeqlstmOptunaSweeper(study_name="s", storage=url, direction="minimize",
                                   n_trials=2, n_jobs=2, sampler=None, pruner=None, params={},
                                   heartbeat_interval=1, grace_period=1, retry_failed=1)
    first = sweeper._ask(study, storage, space, 2)
    assert [t.number for t in first] == [1]  # the orphan holds its share of the budget
    study.tell(first[0], 1.0)
    time.sleep(2.2)  # past the grace period (sqlite's clock counts whole seconds)
    second = sweeper._ask(study, storage, space, 2)
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE,
                                         TrialState.RUNNING]
    assert [t.number for t in second] == [2]
    assert trials[2].params == orphan.params != trials[1].params
    assert trials[2].system_attrs["failed_trial"] == orphan.number
