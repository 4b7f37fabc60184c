"""A PNG of forecasts: recent history, truth (when known), forecast and prediction interval."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

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
        if f"{target}_lower" in rows:
            ax.fill_between(rows[time], rows[f"{target}_lower"], rows[f"{target}_upper"],
                            color="tab:blue", alpha=0.22, label="prediction interval")
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
        ax.set_title(title)
        ax.set_xlabel(time)
        ax.set_ylabel(f"{target} ({units})" if units else target)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path
