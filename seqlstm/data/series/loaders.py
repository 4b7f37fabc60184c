"""The DataLoaders of the :class:`~seqlstm.data.series.module.TimeSeriesDataModule`: windows
of each split (training in a resumable random order), or stateful one-step streams."""

from __future__ import annotations

from typing import Any

from torch.utils.data import DataLoader

from seqlstm.data.series.windows import SeriesWindows, batch_collate
from seqlstm.data.streams import (
    ResumableRandomSampler,
    ResumePoint,
    StreamLoader,
    StreamPart,
    stream_loader,
)
from seqlstm.errors import DataError


class SeriesLoaders:
    """Loaders and the training position (a mixin: it reads the data module's ``windows``,
    ``pairs``, ``stateful``, ``batch_size``, ``lookback``, ``num_workers``, ``trainer``,
    ``windows_per_epoch``, ``sampler_seed`` and ``resume_point``)."""

    windows: dict[str, SeriesWindows]
    pairs: dict[str, list[StreamPart]]
    resume_point: ResumePoint
    stateful: bool
    batch_size: int
    lookback: int
    num_workers: int
    windows_per_epoch: int | None
    sampler_seed: int
    trainer: Any

    def train_dataloader(self) -> DataLoader:
        if self.stateful:
            return self._stream_loader("train", self.batch_size, equal_shards=True,
                                       first=self.resume_point.first_batch(self.trainer))
        windows = self.windows["train"]
        count = self.windows_per_epoch or len(windows)
        # every window once per epoch (a permutation) unless windows_per_epoch draws fewer
        sampler = ResumableRandomSampler(len(windows), count, self.sampler_seed,
                                         replacement=self.windows_per_epoch is not None)
        self.resume_point.resume_sampler(sampler, self.batch_size)
        return self._loader(windows, sampler=sampler, drop_last=False)

    def val_dataloader(self) -> DataLoader:
        if self.stateful:
            return self._stream_loader("val", 1, equal_shards=False)
        return self._loader(self.windows["val"])

    def test_dataloader(self) -> DataLoader:
        if self.stateful:
            return self._stream_loader("test", 1, equal_shards=False)
        if "test" not in self.windows:
            raise DataError("data.split gives the test split no rows; set a test fraction > 0")
        return self._loader(self.windows["test"])

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.windows["predict"])

    def _stream_loader(self, name: str, num_streams: int, equal_shards: bool,
                       first: int = 0) -> StreamLoader:
        """Every series' split ``name`` as ``num_streams`` streams of ``lookback`` steps per
        batch inside this rank's contiguous shard of it, one series after the other."""
        return stream_loader(self.pairs[name], num_streams, self.lookback, self.trainer,
                             split=name, equal_shards=equal_shards, first=first,
                             advice="use a smaller data.batch_size",
                             num_workers=self.num_workers)

    def state_dict(self) -> dict[str, Any]:
        """The training position (streams or random windows), so a fit resumed from a
        mid-epoch checkpoint continues with the next batch."""
        return self.resume_point.save(self.trainer)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.resume_point.load(state_dict)

    def _loader(self, windows: SeriesWindows, **kwargs: Any) -> DataLoader:
        return DataLoader(windows, batch_size=self.batch_size, collate_fn=batch_collate,
                          num_workers=self.num_workers, **kwargs)
