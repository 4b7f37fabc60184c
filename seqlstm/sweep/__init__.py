"""Hyperparameter search with Optuna: search spaces, shared studies, pruning from training.

Optuna is an optional dependency (``pip install "seqlstm[sweep]"``); only the Hydra sweeper
plugin and the pruning callback import this package.
"""

from seqlstm.sweep.pruning import OptunaPruning
from seqlstm.sweep.space import distributions, grid_space
from seqlstm.sweep.study import open_study, trial_budget_used, write_summary

__all__ = ["OptunaPruning", "distributions", "grid_space", "open_study", "trial_budget_used",
           "write_summary"]
