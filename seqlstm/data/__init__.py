"""LightningDataModules and their datasets; nothing here knows about models."""

from seqlstm.data.char import CharDataModule
from seqlstm.data.sequences import SequenceDataModule
from seqlstm.data.spec import DataSpec
from seqlstm.data.synthetic import AddingProblem, CopyTask, RunningSign, TemporalOrder
from seqlstm.data.timeseries import TimeSeriesDataModule
from seqlstm.data.vocab import Vocabulary

__all__ = [
    "AddingProblem",
    "CharDataModule",
    "CopyTask",
    "DataSpec",
    "RunningSign",
    "SequenceDataModule",
    "TemporalOrder",
    "TimeSeriesDataModule",
    "Vocabulary",
]
