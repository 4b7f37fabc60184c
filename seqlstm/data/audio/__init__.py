"""Audio: decoding and resampling, log-mel/MFCC features, augmentation, the Speech Commands
and manifest layouts, and :class:`AudioDataModule`."""

from seqlstm.data.audio.module import AudioDataModule

__all__ = ["AudioDataModule"]
