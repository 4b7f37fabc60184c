"""Opening a study in shared storage, counting its budget, and writing its summary."""

from __future__ import annotations

import contextlib
import csv
import fcntl
import logging
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
import sqlalchemy.orm
import yaml
from optuna.trial import FrozenTrial, TrialState

from seqlstm.errors import ConfigError

log = logging.getLogger(__name__)
STORAGE_KEY = "hydra.sweeper.storage"
#: user attribute holding the error of a trial whose job raised (it uses up budget)
ERROR_ATTR = "error"
#: study user attribute holding the pruner config, so every worker and job prunes alike
PRUNER_ATTR = "pruner"


def open_storage(url: str | None, heartbeat_interval: int | None = None,
                 grace_period: int | None = None,
                 retry_failed: int = 0) -> optuna.storages.BaseStorage | None:
    """An RDB storage for ``url`` (None: in memory), failing now with a one-line error.

    With a heartbeat, trials of a worker that died are failed once ``grace_period`` passes;
    with ``retry_failed`` > 0 each such trial is queued again with the same parameters (up to
    that many times) for the next worker that asks.
    """
    if not url:
        return None
    path = _sqlite_path(url)
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    retry = (optuna.storages.RetryFailedTrialCallback(max_retry=retry_failed)
             if retry_failed and heartbeat_interval else None)

    def connect() -> optuna.storages.RDBStorage:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs,
                                          heartbeat_interval=heartbeat_interval,
                                          grace_period=grace_period,
                                          failed_trial_callback=retry)

    try:
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        with sqlite_lock(url):  # workers starting together race to create the tables
            try:
                return connect()
            except sqlalchemy.exc.IntegrityError:  # another database's worker just made them
                return connect()
    except Exception as err:  # SQLAlchemy raises many kinds; all mean "cannot open"
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(STORAGE_KEY, f"a database URL that opens ({reason})",
                          _without_password(url)) from None


def open_study(name: str, storage: optuna.storages.BaseStorage | None, direction: str,
               sampler: optuna.samplers.BaseSampler | None = None,
               pruner: optuna.pruners.BasePruner | None = None) -> optuna.Study:
    """Create the study ``name`` in ``storage``, or load it when it exists (resume)."""
    if direction not in ("minimize", "maximize"):
        raise ConfigError("hydra.sweeper.direction", "'minimize' or 'maximize'", direction)
    study = optuna.create_study(storage=storage, study_name=name, direction=direction,
                                sampler=sampler, pruner=pruner, load_if_exists=True)
    if study.direction.name.lower() != direction:
        raise ConfigError("hydra.sweeper.direction", f"'{study.direction.name.lower()}', "
                          f"the direction study '{name}' was created with", direction)
    return study


def trial_budget_used(study: optuna.Study) -> int:
    """Trials that count towards ``n_trials``: finished, running or waiting ones, and failures
    of the job itself; not trials failed because their worker died (new trials, or their
    retries, replace them)."""
    return sum(1 for t in study.get_trials(deepcopy=False)
               if t.state != TrialState.FAIL or ERROR_ATTR in t.user_attrs)


@contextlib.contextmanager
def budget_lock(url: str | None, storage: optuna.storages.BaseStorage | None,
                study_name: str) -> Iterator[None]:
    """Serialise "count the budget, then ask" among the workers of one study, so that together
    they never start more than ``n_trials``: a file lock beside a sqlite file, a PostgreSQL
    advisory lock (held by a connection of its own, so a worker that dies releases it). Other
    databases get no lock: at the very end of a study, workers asking at the same instant
    may overshoot by one trial each."""
    if not (url and url.startswith("postgresql") and isinstance(storage,
                                                                 optuna.storages.RDBStorage)):
        with sqlite_lock(url):
            yield
        return
    key = zlib.crc32(f"seqlstm-budget:{study_name}".encode())  # fits pg's bigint
    with storage.engine.connect() as connection:
        connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": key})
        connection.commit()  # the lock belongs to the session: no transaction left open
        try:
            yield
        finally:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"),
                               {"key": key})
            connection.commit()


@contextlib.contextmanager
def sqlite_lock(url: str | None) -> Iterator[None]:
    """Serialise a step among workers sharing a local sqlite file: creating its tables, and
    counting the budget before asking (see :func:`budget_lock`)."""
    path = _sqlite_path(url)
    if path is None:
        yield
        return
    with open(f"{path}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def record_heartbeats(storage: optuna.storages.BaseStorage | None, study_name: str,
                      numbers: list[int]) -> list[int]:
    """Record a heartbeat of trials ``numbers`` now (RDB storage with heartbeats only) and
    return their ids. A trial gets its first one as soon as it is asked for: Optuna never
    fails a running trial that has no heartbeat at all."""
    if not (isinstance(storage, optuna.storages.RDBStorage)
            and storage.get_heartbeat_interval()):
        return []
    study_id = storage.get_study_id_from_name(study_name)
    ids = [storage.get_trial_id_from_study_id_trial_number(study_id, n) for n in numbers]
    for trial_id in ids:
        storage.record_heartbeat(trial_id)
    return ids


def adopt_orphans(storage: optuna.storages.BaseStorage | None, study_name: str) -> list[int]:
    """Give a first heartbeat to every running trial of the study that has none, and return
    their numbers (RDB storage with heartbeats only).

    A worker killed between asking for a trial and recording its first heartbeat leaves such a
    trial, and Optuna fails only trials whose heartbeat stopped, never one that has none: every
    other worker would wait for it for ever. Once adopted, it fails after the grace period and
    is retried like any dead worker's trial. Called under :func:`budget_lock`, which a worker
    holds from asking to the first heartbeat, so no live worker's trial is adopted; where there
    is no such lock, a live worker's trial that is adopted goes on beating and runs on."""
    if not (isinstance(storage, optuna.storages.RDBStorage)
            and storage.get_heartbeat_interval()):
        return []
    from optuna.storages._rdb.models import TrialModel  # no public way to read heartbeats

    study_id = storage.get_study_id_from_name(study_name)
    with sqlalchemy.orm.Session(storage.engine) as session:
        running = (session.query(TrialModel)
                   .options(sqlalchemy.orm.selectinload(TrialModel.heartbeats))
                   .filter(TrialModel.study_id == study_id,
                           TrialModel.state == TrialState.RUNNING).all())
        orphans = [(trial.trial_id, trial.number) for trial in running if not trial.heartbeats]
    for trial_id, number in orphans:
        storage.record_heartbeat(trial_id)
        log.warning("trial %d runs with no heartbeat (its worker died before the first one): "
                    "it fails after the grace period unless a live worker beats for it", number)
    return [number for _, number in orphans]


@contextlib.contextmanager
def heartbeat(storage: optuna.storages.BaseStorage | None, study_name: str,
              numbers: list[int]) -> Iterator[None]:
    """Record the heartbeat of trials ``numbers`` while their jobs run (RDB storage only)."""
    ids = record_heartbeats(storage, study_name, numbers)
    if not ids:
        yield
        return
    interval = storage.get_heartbeat_interval()
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            for trial_id in ids:
                storage.record_heartbeat(trial_id)

    thread = threading.Thread(target=beat, name="optuna-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def write_summary(study: optuna.Study, folder: Path) -> dict[str, Any]:
    """``optimization_results.yaml`` (best value and params, counts) and ``trials.csv``."""
    folder.mkdir(parents=True, exist_ok=True)
    trials = study.get_trials(deepcopy=False)
    counts = {state.name: sum(t.state == state for t in trials) for state in TrialState
              if any(t.state == state for t in trials)}
    summary: dict[str, Any] = {"name": study.study_name,
                               "direction": study.direction.name.lower(),
                               "n_trials": len(trials), "states": counts}
    if counts.get("COMPLETE"):
        best = study.best_trial
        summary.update(best_trial=best.number, best_value=best.value,
                       best_params=dict(best.params))
    (folder / "optimization_results.yaml").write_text(yaml.safe_dump(summary, sort_keys=False))
    names = sorted({name for t in trials for name in t.params})
    with (folder / "trials.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["number", "state", "value", "epochs", "seconds", *names,
                         "worker", ERROR_ATTR])
        for trial in trials:
            writer.writerow([trial.number, trial.state.name, _value(trial),
                             len(trial.intermediate_values), _seconds(trial),
                             *(trial.params.get(name, "") for name in names),
                             trial.user_attrs.get("worker", ""),
                             trial.user_attrs.get(ERROR_ATTR, "")])
    return summary


def absolute_url(url: str | None) -> str | None:
    """``url`` with a relative sqlite file made absolute, so jobs in other folders agree."""
    path = _sqlite_path(url)
    return f"sqlite:///{Path(path).resolve()}" if path else url


def _without_password(url: str) -> str:
    """``url`` with its password, if any, shown as ``***`` (for error messages)."""
    try:
        parsed = sqlalchemy.engine.make_url(url)
    except Exception:  # not even a URL: nothing to hide
        return url
    return url if parsed.password is None else parsed.render_as_string(hide_password=True)


def _sqlite_path(url: str | None) -> str | None:
    """The file of a ``sqlite:///`` URL (None for other databases and in-memory sqlite)."""
    if not url or not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///")
    return None if path in ("", ":memory:") else path


def _value(trial: FrozenTrial) -> Any:
    return "" if trial.value is None else trial.value


def _seconds(trial: FrozenTrial) -> Any:
    if trial.datetime_start is None or trial.datetime_complete is None:
        return ""
    return round((trial.datetime_complete - trial.datetime_start).total_seconds(), 3)
