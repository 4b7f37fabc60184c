"""LightningDataModules by family; nothing here knows about models.

``text/`` (character corpora), ``series/`` (time series), ``sequences/`` (labelled sequence
files), ``audio/`` (speech clips), ``synthetic`` (long-memory tasks) and ``streams`` (stateful
streams and resume positions, shared by all). The names below load lazily, so importing one
family does not import the others (``import seqlstm.data`` loads neither pandas nor Lightning).
"""

from __future__ import annotations

from seqlstm.lazy import lazy_exports

_EXPORTS = {
    "AddingProblem": "seqlstm.data.synthetic",
    "AudioDataModule": "seqlstm.data.audio.module",
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
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
