"""LightningDataModules by family; nothing here knows about models.

``text/`` (character corpora), ``series/`` (time series), ``sequences/`` (labelled sequence
files), ``synthetic`` (long-memory tasks) and ``streams`` (stateful streams and resume
positions, shared by all). The names below load lazily, so importing one family does not
import the others (``import seqlstm.data`` loads neither pandas nor Lightning).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AddingProblem": "seqlstm.data.synthetic",
    "CharDataModule": "seqlstm.data.text.char",
    "CopyTask": "seqlstm.data.synthetic",
    "DataSpec": "seqlstm.spec",
    "InMemoryDataModule": "seqlstm.data.sequences.in_memory",
    "RunningSign": "seqlstm.data.synthetic",
    "SequenceDataModule": "seqlstm.data.sequences.module",
    "TemporalOrder": "seqlstm.data.synthetic",
    "TextClassificationDataModule": "seqlstm.data.text.classification",
    "TimeSeriesDataModule": "seqlstm.data.series.module",
    "TokenTaggingDataModule": "seqlstm.data.text.tagging",
    "Vocabulary": "seqlstm.spec",
    "WordLMDataModule": "seqlstm.data.text.word_lm",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'seqlstm.data' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return __all__
