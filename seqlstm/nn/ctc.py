"""CTC pieces in plain torch: frame stacking, greedy and prefix beam-search decoding.

A CTC model emits, at every (stacked) frame, log-probabilities over the output units plus a
*blank*; a labelling is read off a frame path by merging repeats and dropping blanks.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import torch
from torch import nn

NEG_INF = -math.inf


class FrameStack(nn.Module):
    """Concatenate every ``k`` consecutive frames: ``(B, T, F) -> (B, ceil(T / k), k * F)``
    (the last group zero-padded), so the recurrent layers run ``k`` times fewer steps."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k
        #: input steps per output step (what an exporter needs to make a long enough example)
        self.time_reduction = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.k == 1:
            return x
        if not torch.jit.is_tracing():  # an exported graph takes T a multiple of k
            pad = (-x.size(1)) % self.k
            if pad:
                x = nn.functional.pad(x, (0, 0, 0, pad))
        return x.reshape(x.size(0), -1, self.k * x.size(2))  # (B, T / k, k * F)

    def lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Stacked frames of sequences ``lengths`` frames long."""
        return torch.div(lengths + self.k - 1, self.k, rounding_mode="floor")

    def extra_repr(self) -> str:
        return f"k={self.k}"


def greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor | None, blank: int
                  ) -> list[list[int]]:
    """Best-path decoding of ``(B, T, C)`` scores: each frame's argmax, repeats merged,
    blanks dropped; one list of unit ids per sequence (frames past ``lengths`` ignored)."""
    best = log_probs.argmax(-1)  # (B, T)
    previous = nn.functional.pad(best, (1, 0), value=blank)[:, :-1]
    keep = (best != blank) & (best != previous)
    if lengths is not None:
        keep &= torch.arange(best.size(1), device=best.device) < lengths.to(best.device)[:, None]
    return [row[mask].tolist() for row, mask in zip(best.cpu(), keep.cpu(), strict=True)]


class Lexicon:
    """A word list as unit-id sequences: beam search keeps only prefixes whose words are in it.

    Args:
        words: each word as a sequence of unit ids.
        separator: the unit id between words (a space).
    """

    def __init__(self, words: list[tuple[int, ...]], separator: int | None) -> None:
        self.words = set(words)
        self.prefixes = {word[:i] for word in self.words for i in range(len(word) + 1)}
        self.separator = separator

    def last_word(self, prefix: tuple[int, ...]) -> tuple[int, ...]:
        if self.separator is None or self.separator not in prefix:
            return prefix
        end = len(prefix) - 1 - prefix[::-1].index(self.separator)
        return prefix[end + 1 :]

    def allows(self, prefix: tuple[int, ...]) -> bool:
        """Whether ``prefix`` (just extended by its last unit) can still become words."""
        if prefix and prefix[-1] == self.separator:
            return self.last_word(prefix[:-1]) in self.words and len(prefix) > 1
        return self.last_word(prefix) in self.prefixes

    def complete(self, prefix: tuple[int, ...]) -> bool:
        return not prefix or self.last_word(prefix) in self.words


def prefix_beam_search(log_probs: np.ndarray, blank: int, beam_width: int = 8,
                       prune: float = -10.0, lexicon: Lexicon | None = None) -> list[int]:
    """The most probable labelling of ``(T, C)`` log-probabilities found by CTC prefix beam
    search (Hannun et al. 2014): each prefix keeps the probability of the paths that end in a
    blank and of those that end in its last unit, so every alignment of a labelling adds to
    it (unlike the greedy best path). Units below ``prune`` at a frame are skipped there; with
    an unbounded beam and no pruning the result is exact. With a ``lexicon`` only labellings
    made of its words survive (the best unconstrained one when none does)."""
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, NEG_INF)}
    for frame in log_probs:
        candidates = np.flatnonzero(frame > prune)
        if candidates.size == 0:
            candidates = np.array([int(frame.argmax())])
        grown: dict[tuple[int, ...], list[float]] = defaultdict(lambda: [NEG_INF, NEG_INF])
        for prefix, (p_blank, p_unit) in beams.items():
            total = np.logaddexp(p_blank, p_unit)
            last = prefix[-1] if prefix else None
            for unit in candidates.tolist():
                p = float(frame[unit])
                if unit == blank:
                    entry = grown[prefix]
                    entry[0] = np.logaddexp(entry[0], total + p)
                    continue
                if unit == last:  # the same unit again: the prefix goes on without a blank
                    same = grown[prefix]
                    same[1] = np.logaddexp(same[1], p_unit + p)
                if lexicon is not None and not lexicon.allows((*prefix, unit)):
                    continue
                extended = grown[(*prefix, unit)]
                # a repeated unit counts twice only across a blank
                extended[1] = np.logaddexp(extended[1], (p_blank if unit == last else total) + p)
        ranked = sorted(grown.items(), key=lambda item: -np.logaddexp(*item[1]))
        beams = {prefix: (scores[0], scores[1]) for prefix, scores in ranked[:beam_width]}
    finished = {p: v for p, v in beams.items() if lexicon is None or lexicon.complete(p)}
    best = max((finished or beams).items(), key=lambda item: np.logaddexp(*item[1]))
    return list(best[0])


def beam_decode(log_probs: torch.Tensor, lengths: torch.Tensor | None, blank: int,
                beam_width: int = 8, lexicon: Lexicon | None = None) -> list[list[int]]:
    """:func:`prefix_beam_search` of every sequence of ``(B, T, C)`` log-probabilities."""
    scores = log_probs.float().cpu().numpy()
    steps = lengths.tolist() if lengths is not None else [scores.shape[1]] * scores.shape[0]
    return [prefix_beam_search(scores[b, : steps[b]], blank, beam_width, lexicon=lexicon)
            for b in range(scores.shape[0])]
