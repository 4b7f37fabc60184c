"""Span-level precision, recall and F1 for BIO tags (CoNLL-2003 scoring).

A span is a maximal run ``B-X I-X I-X``; as in ``conlleval`` (and seqeval's default mode), an
``I-X`` that does not continue an ``X`` span starts a new one, and a span counts as found only
when both its type and its exact boundaries match. Scores are micro-averaged over spans.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchmetrics import Metric

from seqlstm.spec import IGNORE_INDEX

Span = tuple[str, int, int]
"""(type, first, last) word positions, both inclusive."""


def is_bio(labels: Sequence[str]) -> bool:
    """Whether ``labels`` look like BIO tags (``O``, ``B-X``, ``I-X``) with at least one span."""
    return any(lab[:2] in ("B-", "I-") for lab in labels) and all(
        lab == "O" or lab[:2] in ("B-", "I-") for lab in labels)


def bio_spans(tags: Sequence[str]) -> set[Span]:
    """The spans of one sentence's tags."""
    spans: set[Span] = set()
    kind, start = None, 0
    for i, tag in enumerate([*tags, "O"]):
        prefix, name = (tag[:1], tag[2:]) if tag != "O" else ("O", None)
        continues = prefix == "I" and name == kind
        if kind is not None and not continues:
            spans.add((kind, start, i - 1))
            kind = None
        if prefix in ("B", "I") and not continues:
            kind, start = name, i
    return spans


def span_counts(predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]
                ) -> tuple[int, int, int]:
    """(correct, predicted, gold) span counts over sentences."""
    correct = found = expected = 0
    for p, g in zip(predicted, gold, strict=True):
        ps, gs = bio_spans(p), bio_spans(g)
        correct, found, expected = correct + len(ps & gs), found + len(ps), expected + len(gs)
    return correct, found, expected


def scores(correct: float, found: float, expected: float) -> dict[str, float]:
    precision = correct / found if found else 0.0
    recall = correct / expected if expected else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"span_precision": precision, "span_recall": recall, "span_f1": f1}


class SpanScores(Metric):
    """Span P/R/F1 of ``(B, T)`` predicted and target tag ids; steps whose target is
    ``IGNORE_INDEX`` (padding, later subwords of a word) are left out before spans are read,
    so spans are over words. Counts are summed across ranks."""

    full_state_update = False

    def __init__(self, labels: Sequence[str]) -> None:
        super().__init__()
        self.labels = list(labels)
        for name in ("correct", "found", "expected"):
            self.add_state(name, default=torch.tensor(0), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, targets: torch.Tensor) -> None:
        names = self.labels
        predicted, gold = [], []
        for p, t in zip(preds.tolist(), targets.tolist(), strict=True):
            keep = [k for k, v in enumerate(t) if v != IGNORE_INDEX]
            predicted.append([names[p[k]] for k in keep])
            gold.append([names[t[k]] for k in keep])
        correct, found, expected = span_counts(predicted, gold)
        self.correct += correct
        self.found += found
        self.expected += expected

    def compute(self) -> dict[str, torch.Tensor]:
        values = scores(float(self.correct), float(self.found), float(self.expected))
        return {k: torch.tensor(v) for k, v in values.items()}
