"""Figures the tasks log each validation epoch (matplotlib, imported only when drawing).

Figures are built with ``matplotlib.figure.Figure`` directly, never pyplot, so drawing needs no
display, leaks no global state and is safe in any thread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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


def forecast_vs_truth(history: torch.Tensor, truth: torch.Tensor, forecast: torch.Tensor,
                      lower: torch.Tensor | None = None, upper: torch.Tensor | None = None,
                      names: list[str] | None = None, unit: str = "value",
                      interval: str = "80% interval", epoch: int = 0,
                      bands: Sequence[tuple[torch.Tensor, torch.Tensor, str]] = ()) -> Figure:
    """One panel per series: the input window, then the truth and the forecast over the
    horizon, with a shaded prediction interval when ``lower``/``upper`` are given, and a fan
    chart of nested ``bands`` ``(lower, upper, label)`` (widest first, each shaded darker than
    the one around it).

    Args:
        history: ``(S, T)`` the input steps of ``S`` series.
        truth, forecast, lower, upper: ``(S, H)`` over the horizon.
        names: a title per series (default ``series i``).
        unit: the y-axis label (what is measured, with its unit).
        interval: the legend label of the shaded band.
        epoch: the training epoch, for the title.
    """
    from matplotlib.figure import Figure

    count, steps, horizon = history.size(0), history.size(1), truth.size(1)
    figure = Figure(figsize=(7, 2.2 * count + 0.8), layout="constrained")
    axes_list = figure.subplots(count, 1, sharex=True, squeeze=False)[:, 0]
    past = range(-steps + 1, 1)
    ahead = range(1, horizon + 1)
    if lower is not None and upper is not None:
        bands = [(lower, upper, interval), *bands]
    ordered = sorted(bands, key=lambda band: -float((band[1] - band[0]).mean()))  # widest first
    for index, axes in enumerate(axes_list):
        axes.plot(past, history[index].cpu(), color="0.4", linewidth=1.2, label="input")
        axes.plot(ahead, truth[index].cpu(), color="black", linewidth=1.5, label="truth")
        axes.plot(ahead, forecast[index].cpu(), color="tab:blue", linewidth=1.5,
                  marker="o" if horizon <= 24 else None, markersize=3, label="forecast")
        for low, high, label in ordered:
            axes.fill_between(ahead, low[index].cpu(), high[index].cpu(), color="tab:blue",
                              alpha=0.18, linewidth=0, label=label)
        axes.axvline(0.5, color="0.7", linestyle=":")
        axes.set_title(names[index] if names else f"series {index}", fontsize=10)
        axes.set_ylabel(unit)
        axes.grid(alpha=0.3)
    axes_list[-1].set_xlabel("steps relative to the forecast origin")
    figure.suptitle(f"Forecast vs truth on validation series, epoch {epoch}")
    figure.legend(*axes_list[0].get_legend_handles_labels(), loc="outside lower center",
                  ncols=4, frameon=False)
    return figure


def confusion_matrix(counts: torch.Tensor, labels: list[str], epoch: int = 0) -> Figure:
    """A confusion matrix ``(C, C)`` (rows: true class, columns: predicted) as a heat map of
    each row's shares, every cell annotated with its count.

    Args:
        counts: ``(C, C)`` how many of true class ``i`` were predicted as ``j``.
        labels: the class names.
        epoch: the training epoch, for the title.
    """
    from matplotlib.figure import Figure

    counts = counts.cpu().long()
    shares = counts / counts.sum(dim=1, keepdim=True).clamp(min=1)  # each true class sums to 1
    size = len(labels)
    side = min(10, 2.5 + 0.5 * size)
    figure = Figure(figsize=(side + 1, side), layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(shares.numpy(), cmap="Blues", vmin=0, vmax=1)
    if size <= 20:
        for true in range(size):
            for predicted in range(size):
                axes.text(predicted, true, str(int(counts[true, predicted])), ha="center",
                          va="center", fontsize=8,
                          color="white" if shares[true, predicted] > 0.5 else "black")
    axes.set_xticks(range(size), labels, rotation=45 if size > 5 else 0, ha="right"
                    if size > 5 else "center")
    axes.set_yticks(range(size), labels)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    accuracy = float(counts.diag().sum() / counts.sum().clamp(min=1))
    axes.set_title(f"Validation confusion matrix, epoch {epoch} (accuracy {accuracy:.1%})")
    figure.colorbar(image, ax=axes, label="share of the true class")
    return figure
