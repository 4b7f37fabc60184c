"""A PNG of forecasts: recent history, truth (when known), forecast and prediction interval."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from seqlstm.data.series.predictions import Forecast

MAX_PANELS = 8


def plot_forecasts(predictions: pd.DataFrame, forecasts: Sequence[Forecast],
                   targets: Sequence[str], time: str, id_column: str, units: str | None,
                   history_steps: int, path: str | Path) -> Path:
    """One panel per (series, target), at most :data:`MAX_PANELS`; returns ``path``.

    Each panel shows the last ``2 * history_steps`` observed values, the truth over the horizon
    when known, the forecast and, when ``<target>_lower``/``_upper`` exist, the interval.
    """
    panels = [(f, t) for f in forecasts for t in targets][:MAX_PANELS]
    # a Figure of its own, not pyplot: no display, no global state, safe in any thread
    fig = Figure(figsize=(10, 3.6 * len(panels)))
    axes = fig.subplots(len(panels), 1, squeeze=False)
    for ax, (forecast, target) in zip(axes[:, 0], panels, strict=True):
        rows = predictions[predictions[id_column].astype(str) == forecast.name]
        history = forecast.history.iloc[-2 * history_steps :]
        ax.plot(history[time], history[target], color="0.25", lw=1.4, label="history")
        origin = history.iloc[[-1]][[time, target]]  # lines continue from the last observation
        ahead = pd.concat([origin, rows[[time, target]]])
        for low, high, label in bands(rows, target):  # widest first: a fan chart
            ax.fill_between(rows[time], rows[low], rows[high], color="tab:blue", alpha=0.18,
                            linewidth=0, label=label)
        if f"{target}_true" in rows:
            truth = pd.concat([origin.rename(columns={target: f"{target}_true"}),
                               rows[[time, f"{target}_true"]]])
            ax.plot(truth[time], truth[f"{target}_true"], color="tab:orange", lw=1.6,
                    marker=".", label="truth")
        ax.plot(ahead[time], ahead[target], color="tab:blue", lw=2, marker="o", ms=3,
                label="forecast")
        ax.axvline(history[time].iloc[-1], color="0.6", lw=0.8, ls=":")
        title = target if forecast.name == "0" and len(forecasts) == 1 \
            else f"{target}, series {forecast.name}"
        _label(ax, title, time, target, units)
    return _save(fig, path)


def bands(rows: pd.DataFrame, target: str) -> list[tuple[str, str, str]]:
    """The interval columns of ``rows``, widest first: ``<target>_lower``/``_upper`` and
    each pair of quantile columns ``<target>_q<q>``/``_q<1-q>``."""
    found = [(f"{target}_lower", f"{target}_upper", "prediction interval")] \
        if f"{target}_lower" in rows else []
    levels = sorted(float(c.rsplit("_q", 1)[1]) for c in rows if c.startswith(f"{target}_q"))
    found += [(f"{target}_q{q:g}", f"{target}_q{1 - q:g}", f"{1 - 2 * q:.0%} interval")
              for q in levels if q < 0.5 and f"{target}_q{1 - q:g}" in rows]
    if found and found[0][2] == "prediction interval":  # the interval again as quantiles: once
        same = rows[found[0][0]].to_numpy()
        found = [found[0], *(b for b in found[1:] if not np.allclose(rows[b[0]], same))]
    return sorted(found, key=lambda band: -float((rows[band[1]] - rows[band[0]]).mean()))


def plot_backtest(forecasts: pd.DataFrame, history: dict[str, pd.DataFrame], target: str,
                  time: str, units: str | None, path: str | Path) -> Path:
    """One panel per series of ``history``: its truth over the backtest and every fold's
    forecast from its origin, with the interval when the forecasts have one."""
    fig = Figure(figsize=(10, 3.2 * len(history)))
    axes = fig.subplots(len(history), 1, squeeze=False)
    for ax, (name, truth) in zip(axes[:, 0], history.items(), strict=True):
        ax.plot(truth[time], truth[target], color="0.25", lw=1.2, label="truth")
        rows = forecasts[forecasts["series"].astype(str) == name]
        for k, (_, fold) in enumerate(rows.groupby("fold", sort=True)):
            label = "forecast per fold" if k == 0 else None
            if f"{target}_lower" in fold:
                ax.fill_between(fold[time], fold[f"{target}_lower"], fold[f"{target}_upper"],
                                color="tab:blue", alpha=0.15, linewidth=0,
                                label="interval" if k == 0 else None)
            ax.plot(fold[time], fold[target], color="tab:blue", lw=1.4, label=label)
            ax.axvline(fold[time].iloc[0], color="0.8", lw=0.6, ls=":")
        _label(ax, f"{target}, series {name}: {rows['fold'].nunique()} folds", time, target,
               units)
    return _save(fig, path)


def _label(ax: Any, title: str, time: str, target: str, units: str | None) -> None:
    """Title, axis labels, grid and legend of one panel."""
    ax.set_title(title)
    ax.set_xlabel(time)
    ax.set_ylabel(f"{target} ({units})" if units else target)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")


def _save(fig: Figure, path: str | Path) -> Path:
    """Lay out ``fig`` and write it to ``path`` as a PNG."""
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path
