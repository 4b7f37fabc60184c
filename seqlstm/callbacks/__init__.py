"""Lightning callbacks that keep runs safe: numerical faults, preemption, exact resume, budgets
that hold on small data."""

from seqlstm.callbacks.budget import StepEarlyStopping
from seqlstm.callbacks.embeddings import PretrainedEmbeddings
from seqlstm.callbacks.numerics import NumericsGuard
from seqlstm.callbacks.resume import PreemptionCheckpoint, RandomState

__all__ = ["NumericsGuard", "PreemptionCheckpoint", "PretrainedEmbeddings", "RandomState",
           "StepEarlyStopping"]
