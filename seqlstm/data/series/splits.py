"""Splits of a series store by time, computed for every series at once.

Each series is cut into train, validation and test rows by the ``split`` fractions of its own
length; the scalers are fitted on the training rows alone, and the windows of a split (starts
``stride`` apart, never crossing a split boundary) are counted per series, not listed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seqlstm.data.series.store import SeriesStore
from seqlstm.data.streams import StreamPart
from seqlstm.spec import SPLITS, Layout, SeriesScaler
from seqlstm.target_transforms import IDENTITY, TargetTransform


def split_cuts(lengths: np.ndarray, split: Sequence[float]) -> np.ndarray:
    """``(S, 4)`` the first rows of train, val and test in each series, then its length."""
    lengths = np.asarray(lengths, dtype=np.int64)
    first = np.rint(split[0] * lengths).astype(np.int64)  # half to even, as round() does
    second = np.rint((split[0] + split[1]) * lengths).astype(np.int64)
    return np.stack([np.zeros_like(lengths), first, second, lengths], axis=1)


def segment_sums(values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``(S, C)`` sums of the rows ``[starts[k], ends[k])`` of ``values`` ``(N, C)`` (disjoint,
    in order), by one ``np.add.reduceat``; an empty segment sums to zero."""
    if len(values) == 0:
        return np.zeros((len(starts), values.shape[1]))
    index = np.stack([starts, ends], axis=1).ravel()
    if index[-1] == len(values):
        index = index[:-1]  # the last segment runs to the end
    sums = np.add.reduceat(values, index.clip(max=len(values) - 1), axis=0)[::2]
    sums[starts >= ends] = 0.0
    return sums


def fit_scaler(store: SeriesStore, cuts: np.ndarray,
               transform: TargetTransform = IDENTITY, targets: int = 0,
               block: int = 1 << 20) -> SeriesScaler:
    """Per-series mean and standard deviation of every column over its training rows, the
    first ``targets`` columns after ``transform``; made for whole series of about ``block``
    rows at a time, so a memory-mapped store needs no ``(N, C)`` temporary."""
    starts = store.offsets[:-1]
    ends = starts + cuts[:, 1]
    count = np.maximum(cuts[:, 1], 1)[:, None].astype(np.float64)
    means = np.zeros((store.num_series, store.values.shape[1]))  # (S, C)
    squares, i = np.zeros_like(means), 0
    while i < store.num_series:
        j = max(i + 1, int(np.searchsorted(store.offsets, store.offsets[i] + block, "right")) - 1)
        lo, hi = int(store.offsets[i]), int(store.offsets[j])
        values = transform.leading(store.values[lo:hi], targets)  # (hi - lo, C)
        means[i:j] = segment_sums(values, starts[i:j] - lo, ends[i:j] - lo) / count[i:j]
        deviation = np.repeat(means[i:j], store.lengths[i:j], axis=0)
        np.subtract(values, deviation, out=deviation)
        np.square(deviation, out=deviation)
        squares[i:j] = segment_sums(deviation, starts[i:j] - lo, ends[i:j] - lo)
        i = j
    return SeriesScaler.from_moments(means, np.sqrt(squares / count), store.names, transform,
                                     targets)


def window_counts(cuts: np.ndarray, k: int, window: int, stride: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``(first, counts)`` per series for split ``k``: the row (within the series) of its first
    window and how many windows of ``window`` rows, ``stride`` apart, fit inside the split."""
    lo, hi = cuts[:, k], cuts[:, k + 1]
    return lo, np.maximum((hi - lo - window) // stride + 1, 0)


def step_pairs(scaled: np.ndarray, offsets: np.ndarray, cuts: np.ndarray, owners: np.ndarray,
               layout: Layout, season: int, names: list[str]) -> dict[str, list[StreamPart]]:
    """Per split, each series' one-step-ahead pairs for stateful streams (from standardised
    rows ``scaled`` ``(N, C)``): every row of the split is a target once, read from the row
    before it (the first ``max(1, season)`` rows of a series have no earlier row or seasonal
    naive value, so they are never targets). One part per series: streams run series by
    series."""
    observed, n = layout.observed, layout.targets
    pairs: dict[str, list[StreamPart]] = {name: [] for name in SPLITS}
    for offset, cut, i in zip(offsets[:-1], cuts, owners, strict=True):
        rows = scaled[offset : offset + cut[-1]].astype(np.float32)  # this series (T, C)
        for k, name in enumerate(SPLITS):
            t = np.arange(max(cut[k] - 1, season - 1), cut[k + 1] - 1)  # input rows
            if len(t):
                # the input at row t carries the known covariates of row t + 1
                inputs = np.concatenate([rows[t, :observed], rows[t + 1, observed:]], 1)
                pairs[name].append(StreamPart(inputs, rows[t + 1, :n],
                                              {"naive": rows[t + 1 - season, :n]},
                                              series=int(i), name=f" of series '{names[i]}'"))
    return pairs
