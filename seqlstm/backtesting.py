"""Backtests of a forecaster checkpoint: rolling-origin forecasts over the test period, scored
per fold (with the task's own metrics, as ``seqlstm-eval`` scores a split) and per series.

Without refitting, every fold of every series is forecast in batched no-grad passes (of up to
:data:`CHUNK` windows: one for 20 folds of one series) over the windows of
:func:`~seqlstm.data.series.backtest.backtest_windows` (gathered by index arithmetic from the
columnar store; no Trainer, no DataLoader, no loop over origins), and the metrics of
every fold and every (fold, series) come from per-window sums
(:mod:`seqlstm.tasks.forecast_scores`), grouped by reshaping. With ``refit_epochs``, each fold
first fine-tunes a copy of the model on the windows that end before its origin (a loop over
folds, as refitting needs).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch

from seqlstm import runtime
from seqlstm.data.series.backtest import Backtest, backtest_windows
from seqlstm.data.series.module import TimeSeriesDataModule
from seqlstm.errors import ConfigError, check_int
from seqlstm.files import write_atomic
from seqlstm.tasks import Forecaster
from seqlstm.tasks.forecast_scores import ratios, window_sums

PANELS = 4  # series drawn in backtest.png
#: windows per forward pass: 2,048 windows of 104 steps (1 x 64 LSTM) took 100-105 ms in
#: passes of 128-256 windows, 141-153 ms in passes of 512-2,048 (one thread, 2-core machine)
CHUNK = 256
SUM = "sum/"  # the rows holding each window's metric sums
#: intra-op threads of the forecasting passes and the scoring: a recurrence over a few hundred
#: windows is a chain of small kernels, which a second thread slows down (a barrier per step;
#: a stall whenever another process holds a core): 20 windows took 0.54 ms on one thread
#: against 1.1 ms (best) to 31 ms (median) on two while other processes loaded the 2-core
#: machine (0.55 against 0.45 ms idle), 2,048 windows in passes of 256 105 against 157 ms
FORECAST_THREADS = 1


@dataclass
class BacktestResult:
    """Per-fold metrics, per-(fold, series) metrics and every forecast step."""

    folds: pd.DataFrame
    series: pd.DataFrame
    forecasts: pd.DataFrame
    history: dict[str, pd.DataFrame]  # the truth around the folds of the plotted series


def run_backtest(task: Forecaster, data: TimeSeriesDataModule, folds: int,
                 step: int | None = None, refit_epochs: int = 0) -> BacktestResult:
    """Backtest ``task`` on ``data`` (set up here) over ``folds`` origins ``step`` rows apart
    (default: the horizon)."""
    if not isinstance(task, Forecaster):
        raise ConfigError("ckpt_path", "a forecaster checkpoint", type(task).__name__)
    check_int("folds", folds, 1)
    check_int("step", step, 1, optional=True)
    check_int("refit_epochs", refit_epochs, 0)
    data.setup("test")
    plan = backtest_windows(data, folds, step or data.horizon)
    if task.training:
        task.eval()
    index = torch.arange(len(plan.windows))
    if refit_epochs:
        parts = [_forecast(_refit(task, data, plan, k, refit_epochs), plan,
                           index[plan.fold_of(index) == k]) for k in range(folds)]
        # fold-major parts (S,) -> series-major rows (S * K,), as the windows are ordered
        rows = {key: torch.stack([p[key] for p in parts], 1).flatten(0, 1) for key in parts[0]}
    else:
        rows = _forecast(task, plan, index)
    with runtime.intra_op_threads(FORECAST_THREADS):
        return _tables(data, plan, rows)


@torch.inference_mode()
@runtime.intra_op_threads(FORECAST_THREADS)
def _forecast(task: Forecaster, plan: Backtest, index: torch.Tensor) -> dict[str, torch.Tensor]:
    """Forecast the plan's windows ``index`` in passes of :data:`CHUNK` on
    :data:`FORECAST_THREADS` threads: point forecasts, truth and interval bounds in original
    units, and each window's sums of every test metric of the task (see
    :mod:`seqlstm.tasks.forecast_scores`)."""
    parts = []
    for chunk in index.split(CHUNK):
        batch = task.with_defaults(plan.windows.__getitems__(chunk))
        series = batch["series"]
        outputs = task.step_outputs(batch, "test")
        point = task.original_units(task.point(outputs, series), series)  # (B, H, n)
        truth = task.original_units(batch["targets"], series)
        naive = task.original_units(batch["naive"], series) \
            if "season" in task.spec.extra else None  # MASE is scored when there is a season
        found = {"point": point, "truth": truth}
        quantiles = samples = None
        if task.dist.probabilistic:
            quantiles, samples = task.scored_quantiles(batch, outputs)
            found.update(lower=quantiles[0], upper=quantiles[1])
        sums = window_sums(point, truth, naive, quantiles, task.wql_levels(), samples)
        parts.append({**found, **{SUM + name: value for name, value in sums.items()}})
    if len(parts) == 1:
        return parts[0]
    return {key: torch.cat([part[key] for part in parts]) for key in parts[0]}


def _refit(task: Forecaster, data: TimeSeriesDataModule, plan: Backtest, fold: int,
           epochs: int) -> Forecaster:
    """A copy of ``task`` fine-tuned for ``epochs`` on every window ending before the origin of
    ``fold`` (in every series)."""
    window = data.lookback + data.horizon
    ends = plan.origins[:, fold]  # (S,) rows: windows must end at or before them
    counts = np.maximum(ends - window + 1, 0)
    store = data.store
    train = data._windows(torch.from_numpy(store.values), store.offsets[:-1], counts,
                          data.scaler.rows(store.names), stride=1,
                          statics=data.static_inputs(store))
    model = copy.deepcopy(task).train()
    trainer = L.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, accelerator="cpu")
    trainer.fit(model, train_dataloaders=data._loader(train, shuffle=True))
    return model.eval()


def _tables(data: TimeSeriesDataModule, plan: Backtest,
            rows: dict[str, torch.Tensor]) -> BacktestResult:
    count, folds = len(plan.names), plan.folds
    sums = {key[len(SUM):]: value.view(count, folds, 2) for key, value in rows.items()
            if key.startswith(SUM)}  # (S, K, 2) per series and fold
    per_fold = ratios({name: pair.sum(0) for name, pair in sums.items()})  # (K,)
    fold_table = pd.DataFrame({"fold": np.arange(1, folds + 1),
                               **{name: value.numpy() for name, value in
                                  sorted(per_fold.items())}})
    times = plan.times.reshape(-1)
    per = {"fold": np.tile(np.arange(1, folds + 1), count),
           "series": np.repeat(plan.names, folds),
           "origin": pd.to_datetime(times) if times.dtype.kind == "M" else times,
           **{name: value.reshape(-1).numpy() for name, value in ratios(sums).items()}}
    horizon, store = data.horizon, data.store
    at = store.offsets[:-1, None, None] + plan.origins[:, :, None] + np.arange(horizon)
    step_times = store.time[at].reshape(-1)  # (S * K * H,) the time of every forecast step
    steps = {"fold": np.repeat(per["fold"], horizon), "series": np.repeat(per["series"], horizon),
             data.time_name: pd.to_datetime(step_times) if step_times.dtype.kind == "M"
             else step_times, "step": np.tile(np.arange(1, horizon + 1), count * folds)}
    columns = {"": "point", "_true": "truth", "_lower": "lower", "_upper": "upper"}
    for j, target in enumerate(data.targets):
        steps.update({target + suffix: rows[key][..., j].reshape(-1).numpy()
                      for suffix, key in columns.items() if key in rows})
    history = {}  # what the figure draws: each plotted series from its first fold's input on
    for i in range(min(count, PANELS)):
        span = slice(store.offsets[i] + plan.origins[i, 0] - data.lookback, store.offsets[i + 1])
        history[plan.names[i]] = pd.DataFrame({data.time_name: store.time[span], **{
            target: store.values[span, j] for j, target in enumerate(data.targets)}})
    return BacktestResult(fold_table, pd.DataFrame(per), pd.DataFrame(steps), history)


def write_backtest(result: BacktestResult, out_dir: str | Path,
                   data: TimeSeriesDataModule) -> list[Path]:
    """``backtest.csv`` (per fold and series), ``backtest_folds.csv``, ``backtest_forecasts.csv``
    and ``backtest.png``, each written whole or not at all."""
    from seqlstm.data.series.plot import plot_backtest

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables: dict[str, Any] = {"backtest.csv": result.series, "backtest_folds.csv": result.folds,
                              "backtest_forecasts.csv": result.forecasts}
    written = []
    for name, frame in tables.items():
        write_atomic(out / name, frame.to_csv(index=False).encode())
        written.append(out / name)
    written.append(plot_backtest(result.forecasts, result.history, data.targets[0],
                                 data.time_name, data.units, out / "backtest.png"))
    return written
