"""Backtests of a forecaster checkpoint: rolling-origin forecasts over the test period, scored
per fold (with the task's own metrics, as ``seqlstm-eval`` scores a split) and per series.

Without refitting, every fold of every series is forecast in one batched pass over the windows
of :func:`~seqlstm.data.series.backtest.backtest_windows`. With ``refit_epochs``, each fold
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

from seqlstm.data.series.backtest import Backtest, backtest_windows
from seqlstm.data.series.module import TimeSeriesDataModule
from seqlstm.errors import ConfigError, check_int
from seqlstm.files import write_atomic
from seqlstm.tasks import Forecaster

PANELS = 4  # series drawn in backtest.png


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
    task.eval()
    if refit_epochs:
        parts = [_forecast(_refit(task, data, plan, k, refit_epochs), data, plan, fold=k)
                 for k in range(folds)]
        # fold-major parts -> series-major rows, as the windows of one pass are ordered
        rows = {key: torch.stack([p[0][key] for p in parts], 1).flatten(0, 1)
                for key in parts[0][0]}
        scores = {k: v for _, part in parts for k, v in part.items()}
    else:
        rows, scores = _forecast(task, data, plan)
    return _tables(data, plan, scores, rows)


@torch.no_grad()
def _forecast(task: Forecaster, data: TimeSeriesDataModule, plan: Backtest,
              fold: int | None = None) -> tuple[dict[str, torch.Tensor], dict[int, dict]]:
    """Forecast the plan's windows (only fold ``fold``'s when given) in batches; returns point
    forecasts, truth and interval bounds in original units, and each fold's metrics (the
    task's test metrics, updated with that fold's windows)."""
    windows = plan.windows
    index = torch.arange(len(windows))
    if fold is not None:
        index = index[plan.fold_of(index) == fold]
    out: dict[str, list[torch.Tensor]] = {}
    for chunk in index.split(data.batch_size):
        batch = task.with_defaults(windows.__getitems__(chunk.tolist()))
        series = batch["series"]
        outputs = task.step_outputs(batch, "test")
        found = {"point": task.original_units(task.point(outputs, series), series),
                 "truth": task.original_units(batch["targets"], series), "outputs": outputs,
                 **{f"batch/{key}": value for key, value in batch.items()}}
        if task.dist.probabilistic:
            bounds, _ = task.forecast_quantiles(batch, outputs, list(task.interval_levels))
            found.update(lower=bounds[0], upper=bounds[1])
        for key, value in found.items():
            out.setdefault(key, []).append(value)
    rows = {key: torch.cat(values) for key, values in out.items()}
    metrics, scores, folds = task.build_metrics("test"), {}, plan.fold_of(index)
    for k in folds.unique().tolist():  # one metric object, reset between folds
        mine = folds == k
        batch = {key[6:]: value[mine] for key, value in rows.items() if key.startswith("batch/")}
        task.update_metrics(metrics, rows["outputs"][mine], batch, torch.zeros(()))
        scores[k] = {name: float(value) for name, value in metrics.compute().items()}
        metrics.reset()
    return {k: v for k, v in rows.items() if k in ("point", "truth", "lower", "upper")}, scores


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


def _tables(data: TimeSeriesDataModule, plan: Backtest, scores: dict[int, dict],
            rows: dict[str, torch.Tensor]) -> BacktestResult:
    count, folds = len(plan.names), plan.folds
    times = plan.times.reshape(-1)
    times = pd.to_datetime(times) if times.dtype.kind == "M" else times
    fold_table = pd.DataFrame([{"fold": k + 1, **scores[k]} for k in range(folds)])
    point, truth = rows["point"].numpy(), rows["truth"].numpy()  # (S * K, H, n)
    error = point - truth
    per = {"fold": np.tile(np.arange(1, folds + 1), count),
           "series": np.repeat(plan.names, folds), "origin": times,
           "mae": np.abs(error).mean(axis=(1, 2)), "rmse": np.sqrt((error ** 2).mean(axis=(1, 2)))}
    if "lower" in rows:
        lower, upper = rows["lower"].numpy(), rows["upper"].numpy()
        per["coverage"] = ((truth >= lower) & (truth <= upper)).mean(axis=(1, 2))
        per["width"] = (upper - lower).mean(axis=(1, 2))
    series_table = pd.DataFrame(per)
    horizon, store = data.horizon, data.store
    at = store.offsets[:-1, None, None] + plan.origins[:, :, None] + np.arange(horizon)
    step_times = store.time[at].reshape(-1)  # (S * K * H,) the time of every forecast step
    steps = {"fold": np.repeat(per["fold"], horizon), "series": np.repeat(per["series"], horizon),
             data.time_name: pd.to_datetime(step_times) if step_times.dtype.kind == "M"
             else step_times, "step": np.tile(np.arange(1, horizon + 1), count * folds)}
    for j, target in enumerate(data.targets):
        steps[target] = point[..., j].reshape(-1)
        steps[f"{target}_true"] = truth[..., j].reshape(-1)
        if "lower" in rows:
            steps[f"{target}_lower"] = rows["lower"][..., j].reshape(-1).numpy()
            steps[f"{target}_upper"] = rows["upper"][..., j].reshape(-1).numpy()
    history = {}  # what the figure draws: each plotted series from its first fold's input on
    for i in range(min(count, PANELS)):
        rows = slice(store.offsets[i] + plan.origins[i, 0] - data.lookback, store.offsets[i + 1])
        history[plan.names[i]] = pd.DataFrame({data.time_name: store.time[rows], **{
            target: store.values[rows, j] for j, target in enumerate(data.targets)}})
    return BacktestResult(fold_table, series_table, pd.DataFrame(steps), history)


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
