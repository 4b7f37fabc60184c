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


def doubling_bins(length: int) -> list[tuple[int, int]]:
    """Positions ``1..length`` in bins that double in width: (1, 1), (2, 2), (3, 4), (5, 8)..."""
    bins, start = [], 1
    while start <= length:
        end = min(length, 1 if start == 1 else 2 * start - 2)
        bins.append((start, end))
        start = end + 1
    return bins


def loss_by_position(losses: torch.Tensor, epoch: int, unit: str = "characters") -> Figure:
    """The mean next-token loss at each position of a window, on a log-scaled axis.

    Single positions are noisy (one value per window), so the means over bins of doubling
    width (positions 1, 2, 3-4, 5-8, ...) are drawn over them.

    Args:
        losses: ``(B, T)`` losses in nats, NaN where a target is not scored.
        epoch: the training epoch, for the title.
        unit: what a position counts, for the x-axis label.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    bits = (losses / math.log(2)).cpu()  # (B, T)
    per_position = bits.nanmean(dim=0).numpy()  # (T,)
    length = len(per_position)
    bins = doubling_bins(length)
    centres = [math.sqrt(start * end) for start, end in bins]
    binned = [float(bits[:, start - 1:end].nanmean()) for start, end in bins]
    overall = float(bits.nanmean())

    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.add_subplot()
    axes.plot(range(1, length + 1), per_position, color="tab:blue", alpha=0.35, linewidth=1,
              label="each position")
    axes.plot(centres, binned, color="tab:blue", marker="o", linewidth=2,
              label="positions 1, 2, 3-4, 5-8, ...")
    axes.axhline(overall, color="tab:orange", linestyle="--",
                 label=f"all positions: {overall:.2f}")
    axes.set_xscale("log", base=2)
    axes.xaxis.set_major_locator(FixedLocator([2 ** k for k in range(length.bit_length())]))
    axes.xaxis.set_major_formatter(ScalarFormatter())
    axes.xaxis.set_minor_locator(NullLocator())
    axes.set_xlim(1, max(2, length))
    axes.set_xlabel(f"position in window ({unit} of context seen, log scale)")
    axes.set_ylabel("validation loss (bits per character)")
    axes.set_title(f"Validation loss by position in the window "
                   f"(mean of {bits.size(0)} windows, epoch {epoch})")
    axes.grid(alpha=0.3)
    figure.legend(loc="outside lower center", ncols=3, frameon=False)
    return figure
