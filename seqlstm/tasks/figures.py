"""Figures the tasks log each validation epoch (matplotlib, imported only when drawing).

Figures are built with ``matplotlib.figure.Figure`` directly, never pyplot, so drawing needs no
display, leaks no global state and is safe in any thread.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def loss_by_position(losses: torch.Tensor, epoch: int, unit: str = "characters") -> Figure:
    """Line plot of the mean next-token loss at each position of a window.

    Args:
        losses: ``(B, T)`` losses in nats, NaN where a target is not scored.
        epoch: the training epoch, for the title.
        unit: what a position counts, for the x-axis label.
    """
    from matplotlib.figure import Figure

    bits = (losses / math.log(2)).cpu()  # (B, T)
    per_position = bits.nanmean(dim=0).numpy()  # (T,)
    overall = float(bits.nanmean())
    positions = range(1, len(per_position) + 1)
    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.add_subplot()
    axes.plot(positions, per_position, color="tab:blue", linewidth=1.5,
              label=f"mean over {bits.size(0)} windows")
    axes.axhline(overall, color="tab:orange", linestyle="--",
                 label=f"mean over all positions: {overall:.2f}")
    axes.set_xlabel(f"position in window ({unit} of context seen)")
    axes.set_ylabel("validation loss (bits per character)")
    axes.set_title(f"Validation loss by position in the window, epoch {epoch}")
    axes.set_xlim(1, max(2, len(per_position)))
    axes.grid(alpha=0.3)
    axes.legend(loc="upper right")
    return figure
