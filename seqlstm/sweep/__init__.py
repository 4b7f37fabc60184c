"""Hyperparameter search with Optuna: search spaces, shared studies, pruning from training, and
the Hydra sweeper itself (:mod:`seqlstm.sweep.sweeper`).

Optuna is an optional dependency (``pip install "seqlstm[sweep]"``). The names below load
lazily, so Hydra's plugin scan (which imports the sweeper module) loads neither Optuna nor
Lightning.
"""

from __future__ import annotations

from seqlstm.lazy import lazy_exports

_EXPORTS = {
    "OptunaPruning": "seqlstm.sweep.pruning",
    "OptunaSweeper": "seqlstm.sweep.sweeper",
    "distributions": "seqlstm.sweep.space",
    "grid_space": "seqlstm.sweep.space",
    "open_study": "seqlstm.sweep.study",
    "trial_budget_used": "seqlstm.sweep.study",
    "write_summary": "seqlstm.sweep.study",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
