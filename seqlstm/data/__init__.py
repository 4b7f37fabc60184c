"""LightningDataModules and their datasets; nothing here knows about models."""

from seqlstm.data.char import CharDataModule
from seqlstm.data.spec import DataSpec
from seqlstm.data.vocab import Vocabulary

__all__ = ["CharDataModule", "DataSpec", "Vocabulary"]
