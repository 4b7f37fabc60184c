"""Time series: a LightningDataModule over one or many series in a table.

A table (CSV, Parquet, ``.npy``/``.npz`` or a pandas DataFrame) holds rows of series: an optional
id column naming the series, an optional time column (checked: strictly increasing within each
series), one or more targets, past-observed covariates (known up to now) and known-future
covariates (known over the forecast horizon too, e.g. calendar features).

Each series is split by time (train first, then validation, then test) and windows of
``lookback + horizon`` rows never cross a split boundary. Every column is standardised per series
with the mean and standard deviation of that series' training rows; the fitted scalers are plain
data in ``spec.extra``, so they travel in checkpoints and come back as ``fitted`` at evaluation
and prediction time.

Prediction contract (shared by seqlstm's data modules): ``fitted`` takes the checkpoint's
``spec.extra``, ``predict_path`` names a file of new data, :meth:`predict_dataloader` yields its
batches and :meth:`format_predictions` turns the task's ``predict_step`` outputs into a DataFrame
in original units.

``spec.extra`` (the fitted state, plain data): ``series`` (ids, in scaler order), ``columns``
(targets, then past and future covariates), ``targets``, ``past_covariates``,
``future_covariates``, ``mean`` and ``std`` (one list per series, one value per column) and
``season`` (of the seasonal naive forecast in each batch's ``naive``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, RandomSampler

from seqlstm.data.series.tables import (
    MISSING_POLICIES,
    ROW,
    SINGLE_SERIES,
    Source,
    check_sorted,
    fill_missing,
    parse_time,
    read_table,
    require_columns,
    to_numeric,
)
from seqlstm.data.series.windows import SeriesWindows, batch_collate
from seqlstm.data.streams import (
    SeriesStreams,
    StreamBatches,
    StreamLoader,
    rank_of,
    resume_batch,
    training_position,
)
from seqlstm.errors import ConfigError, DataError, check_int
from seqlstm.spec import SPLITS, DataSpec, Layout

TIME = "time"  # the time column's name when the table has none (row position)


@dataclass
class Series:
    """One series' rows in time order: the time column, the value columns, the source rows."""

    name: str
    frame: pd.DataFrame


@dataclass
class StepPairs:
    """One series' split as one-step-ahead pairs for stateful streams (standardised)."""

    series: int  # the series' row in the fitted scalers
    inputs: np.ndarray  # (T, C): row t, with the known covariates of row t + 1
    targets: np.ndarray  # (T, n): the targets of row t + 1
    naive: np.ndarray  # (T, n): the seasonal naive forecast of row t + 1


@dataclass
class Forecast:
    """What prediction needs to know about one series beyond the tensors."""

    name: str
    history: pd.DataFrame  # time and target columns, original units
    times: list[Any]  # the horizon's time stamps
    truth: np.ndarray  # (H, n_targets), NaN where unknown


class TimeSeriesDataModule(L.LightningDataModule):
    """Sliding-window forecasting over one or many series.

    Args:
        path: a ``.csv``, ``.parquet``, ``.npy`` or ``.npz`` file, or a pandas DataFrame.
        targets: the column(s) to forecast.
        time_column: the time column (numbers or dates); None: row order is time.
        id_column: the column naming each row's series; None: one series.
        past_covariates: columns known only up to the forecast origin.
        future_covariates: columns known over the horizon too.
        lookback: observed steps the model reads.
        horizon: steps it forecasts.
        stride: steps between the starts of consecutive windows.
        split: fractions of each series (by time) for train, val and test.
        batch_size: windows per batch.
        missing: ``error`` (default), ``ffill``, ``interpolate`` or ``drop``.
        time_format: a ``strftime`` format for parsing the time column (e.g. ``%Y%m%d``).
        season: season length of the seasonal naive forecast that MASE compares against.
        units: the targets' units, for plot labels.
        fitted: scalers from a checkpoint's ``spec.extra``; None fits them on the train split.
        predict_path: a table of new data to forecast from (default: ``path``).
        holdout: at prediction, hide this many last observed steps of each series and forecast
            them, so the forecast can be compared with the truth.
        num_workers: DataLoader workers.
        stateful: read each series' split as ``batch_size`` contiguous streams of one-step-ahead
            pairs (``lookback`` steps per batch, the state carried across batches) instead of
            windows; see ``docs/stateful.md``.
    """

    def __init__(
        self,
        path: str | Path | pd.DataFrame | None,
        targets: str | Sequence[str],
        time_column: str | None = None,
        id_column: str | None = None,
        past_covariates: Sequence[str] = (),
        future_covariates: Sequence[str] = (),
        lookback: int = 24,
        horizon: int = 1,
        stride: int = 1,
        split: Sequence[float] = (0.7, 0.15, 0.15),
        batch_size: int = 64,
        missing: str = "error",
        time_format: str | None = None,
        season: int = 1,
        units: str | None = None,
        fitted: dict[str, Any] | None = None,
        predict_path: str | None = None,
        holdout: int = 0,
        num_workers: int = 0,
        stateful: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["path", "fitted", "predict_path"])
        # an in-memory table cannot travel in a checkpoint; prediction then needs predict_path
        self.hparams["path"] = None if isinstance(path, pd.DataFrame) else path
        for key, value in (("lookback", lookback), ("horizon", horizon), ("stride", stride),
                           ("batch_size", batch_size), ("season", season)):
            check_int(f"data.{key}", value, 1)
        check_int("data.holdout", holdout, 0)
        if stateful and stride != 1:
            raise ConfigError("data.stride", "1 with data.stateful=true (streams read every step)",
                              stride)
        if missing not in MISSING_POLICIES:
            raise ConfigError("data.missing", f"one of {list(MISSING_POLICIES)}", missing)
        if lookback < season * -(-horizon // season):
            raise ConfigError("data.lookback", f">= one season before every horizon step "
                              f"(season * ceil(horizon / season) = "
                              f"{season * -(-horizon // season)})", lookback)
        split = [float(f) for f in split]
        if len(split) != 3 or min(split) < 0 or split[0] <= 0 or split[1] <= 0 \
                or abs(sum(split) - 1) > 1e-6:
            raise ConfigError("data.split", "three fractions (train > 0, val > 0, test >= 0) "
                              "summing to 1", split)
        self.targets = [str(targets)] if isinstance(targets, (str, int)) else \
            [str(t) for t in targets]
        self.past = [str(c) for c in past_covariates]
        self.future = [str(c) for c in future_covariates]
        self.columns = [*self.targets, *self.past, *self.future]
        if not self.targets:
            raise ConfigError("data.targets", "at least one column name", targets)
        if len(set(self.columns)) != len(self.columns):
            raise ConfigError("data.targets/past_covariates/future_covariates",
                              "distinct column names", self.columns)
        self.layout = Layout(len(self.targets), len(self.past), len(self.future))
        self.path, self.predict_path, self.fitted = path, predict_path, fitted
        self.time_column, self.id_column, self.time_format = time_column, id_column, time_format
        self.lookback, self.horizon, self.stride, self.season = lookback, horizon, stride, season
        self.split, self.batch_size, self.missing = split, batch_size, missing
        self.holdout, self.units, self.num_workers = holdout, units, num_workers
        self.stateful = stateful
        self.windows: dict[str, SeriesWindows] = {}
        self.pairs: dict[str, list[StepPairs]] = {}
        self._resume_at: dict[str, int] = {}
        self.forecasts: list[Forecast] = []

    # -- reading ---------------------------------------------------------------------------
    @property
    def time_name(self) -> str:
        return self.time_column or TIME

    def read_series(self, path: str | Path | pd.DataFrame | None) -> tuple[list[Series], Source]:
        """The series of the table at ``path``, checked: columns present and numeric, times
        strictly increasing within each series. Missing values are not handled yet."""
        if path is None:
            raise ConfigError("data.path", "a table file (an in-memory DataFrame does not travel "
                              "in checkpoints; give data.predict_path)", None)
        frame, source = read_table(path)
        require_columns(frame, source, self.targets, "data.targets")
        require_columns(frame, source, self.past, "data.past_covariates")
        require_columns(frame, source, self.future, "data.future_covariates")
        for key in ("time_column", "id_column"):
            if getattr(self, key) is not None:
                require_columns(frame, source, [getattr(self, key)], f"data.{key}")
        to_numeric(frame, source, self.columns)
        if self.time_column is not None:
            parse_time(frame, source, self.time_column, self.time_format)
        if self.id_column is None:
            groups = [(SINGLE_SERIES, frame)]
        else:
            ids = frame[self.id_column].astype(str)
            groups = [(name, frame[ids == name]) for name in pd.unique(ids)]
        series = []
        for name, rows in groups:
            rows = rows.reset_index(drop=True)
            if self.time_column is None:
                rows[TIME] = np.arange(len(rows))
            else:
                check_sorted(rows[self.time_column], rows[ROW], source, name, self.time_column)
            series.append(Series(name, rows[[self.time_name, *self.columns, ROW]]))
        return series, source

    def _filled(self, series: Series, source: Source) -> Series:
        frame = fill_missing(series.frame.copy(), source, series.name, self.columns,
                             self.missing, self.time_name)
        return Series(series.name, frame.reset_index(drop=True))

    # -- fitting and windows ---------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if stage == "predict":
            if not self.forecasts:
                self._setup_predict()
            return
        if self.windows:
            return
        series, source = self.read_series(self.path)
        series = [self._filled(s, source) for s in series]
        window = self.lookback + self.horizon
        for s in series:
            if len(s.frame) < window:
                raise DataError(f"{source.name}: series '{s.name}' has {len(s.frame)} rows, "
                                f"fewer than data.lookback + data.horizon = {window}")
        bounds = [self._bounds(len(s.frame)) for s in series]
        if self.fitted is None:
            self.fitted = self._fit(series, bounds)
        index = self._scaler_index(series, source)
        values = torch.from_numpy(np.concatenate(
            [self._normalise(s.frame, i) for s, i in zip(series, index, strict=True)]))
        offsets = np.cumsum([0] + [len(s.frame) for s in series])
        for k, name in enumerate(SPLITS):
            starts, owners = [], []
            for offset, (lo, hi), i in zip(offsets[:-1], bounds, index, strict=True):
                first = np.arange(offset + lo[k], offset + hi[k] - window + 1, self.stride)
                starts.append(first)
                owners.append(np.full(len(first), i))
            count = sum(len(s) for s in starts)
            if count == 0 and (name != "test" or self.split[2] > 0):
                longest = max(hi[k] - lo[k] for lo, hi in bounds)
                raise DataError(f"{source.name}: the {name} split holds no window of "
                                f"data.lookback + data.horizon = {window} rows (its longest "
                                f"series part has {longest}); use longer series, a larger "
                                f"{name} fraction in data.split or a smaller data.lookback")
            if count:
                self.windows[name] = self._windows(values, np.concatenate(starts),
                                                   np.concatenate(owners))
        if self.stateful:
            self.pairs = self._step_pairs(values.numpy(), offsets, bounds, index)

    def _bounds(self, length: int) -> tuple[list[int], list[int]]:
        """First and end rows of train, val and test in a series of ``length`` rows."""
        cuts = [0, round(self.split[0] * length), round((self.split[0] + self.split[1]) * length),
                length]
        return cuts[:3], cuts[1:]

    def _fit(self, series: list[Series], bounds: list[tuple[list[int], list[int]]]
             ) -> dict[str, Any]:
        """Per-series mean and standard deviation of every column, on training rows alone."""
        means, stds = [], []
        for s, (_, hi) in zip(series, bounds, strict=True):
            train = s.frame[self.columns].to_numpy()[: hi[0]]
            std = train.std(axis=0)
            means.append(train.mean(axis=0).tolist())
            stds.append(np.where(std > 0, std, 1.0).tolist())
        return {"series": [s.name for s in series], "columns": list(self.columns),
                "targets": list(self.targets), "past_covariates": list(self.past),
                "future_covariates": list(self.future), "mean": means, "std": stds,
                "season": self.season}

    def _scaler_index(self, series: list[Series], source: Source) -> list[int]:
        """Each series' row in the fitted scalers; a series never seen in training is an error."""
        if list(self.fitted.get("columns", [])) != self.columns:
            raise DataError(f"the fitted scalers are for columns {self.fitted.get('columns')}, "
                            f"but the data config names {self.columns}")
        known = {name: i for i, name in enumerate(self.fitted["series"])}
        for s in series:
            if s.name not in known:
                raise DataError(f"{source.name}: series '{s.name}' was not in the training data "
                                f"(known: {list(known)[:10]}); it has no fitted scaler")
        return [known[s.name] for s in series]

    def _normalise(self, frame: pd.DataFrame, index: int) -> np.ndarray:
        mean = np.asarray(self.fitted["mean"][index])
        std = np.asarray(self.fitted["std"][index])
        return ((frame[self.columns].to_numpy() - mean) / std).astype(np.float32)

    def _windows(self, values: torch.Tensor, starts: np.ndarray,
                 owners: np.ndarray) -> SeriesWindows:
        return SeriesWindows(values, torch.from_numpy(starts).long(),
                             torch.from_numpy(owners).long(), self.layout, self.lookback,
                             self.horizon, self.season)

    @property
    def spec(self) -> DataSpec:
        if self.fitted is None:
            raise RuntimeError("call setup() before reading spec")
        return DataSpec(input_kind="real", target_kind="real", input_size=self.layout.width,
                        output_size=self.layout.targets, horizon=self.horizon,
                        extra=self.fitted)

    def _step_pairs(self, values: np.ndarray, offsets: np.ndarray,
                    bounds: list[tuple[list[int], list[int]]], index: list[int]
                    ) -> dict[str, list[StepPairs]]:
        """Per split, each series' one-step-ahead pairs for stateful streams: every row of the
        split is a target once, read from the row before it (the first ``max(1, season)`` rows
        of a series have no earlier row or seasonal naive value, so they are never targets)."""
        observed, n = self.layout.observed, self.layout.targets
        pairs: dict[str, list[StepPairs]] = {name: [] for name in SPLITS}
        for offset, (lo, hi), i in zip(offsets[:-1], bounds, index, strict=True):
            rows = values[offset : offset + hi[-1]]  # this series, standardised (N, C)
            for k, name in enumerate(SPLITS):
                t = np.arange(max(lo[k] - 1, self.season - 1), hi[k] - 1)  # input rows
                if len(t):
                    # the input at row t carries the known covariates of row t + 1
                    inputs = np.concatenate([rows[t, :observed], rows[t + 1, observed:]], 1)
                    pairs[name].append(StepPairs(i, inputs, rows[t + 1, :n],
                                                 rows[t + 1 - self.season, :n]))
        return pairs

    # -- loaders ---------------------------------------------------------------------------
    def train_dataloader(self) -> DataLoader:
        if self.stateful:
            first, self._resume_at = resume_batch(self._resume_at, self.trainer), {}
            return self._stream_loader("train", self.batch_size, equal_shards=True, first=first)
        windows = self.windows["train"]
        return self._loader(windows, sampler=RandomSampler(windows), drop_last=False)

    def val_dataloader(self) -> DataLoader:
        if self.stateful:
            return self._stream_loader("val", 1, equal_shards=False)
        return self._loader(self.windows["val"])

    def _stream_loader(self, name: str, num_streams: int, equal_shards: bool,
                       first: int = 0) -> StreamLoader:
        """Every series' split ``name`` as ``num_streams`` streams of ``lookback`` steps per
        batch inside this rank's contiguous shard of it, one series after the other, the first
        pass starting at batch ``first``."""
        rank, world_size = rank_of(self.trainer)
        parts = []
        for pair in self.pairs[name]:
            try:
                parts.append((pair.series, StreamBatches(
                    pair.inputs, pair.targets, num_streams, self.lookback, rank=rank,
                    world_size=world_size, equal_shards=equal_shards,
                    extra={"naive": pair.naive})))
            except DataError as err:
                raise DataError(f"{name} split of series '{self.fitted['series'][pair.series]}': "
                                f"{err}; use a smaller data.batch_size") from None
        if not parts:
            raise DataError(f"data.split gives the {name} split no rows; set its fraction > 0")
        return StreamLoader(SeriesStreams(parts), self.num_workers, first)

    def state_dict(self) -> dict[str, Any]:
        """Stateful streams: the training position, so a resumed fit continues the same streams
        from the next batch. (Windows are drawn afresh each epoch.)"""
        return training_position(self.trainer) if self.stateful else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if "epoch" in state_dict:
            self._resume_at = {"world_size": 1, **state_dict}

    def test_dataloader(self) -> DataLoader:
        if "test" not in self.windows:
            raise DataError("data.split gives the test split no rows; set a test fraction > 0")
        if self.stateful:
            return self._stream_loader("test", 1, equal_shards=False)
        return self._loader(self.windows["test"])

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.windows["predict"])

    def _loader(self, windows: SeriesWindows, **kwargs: Any) -> DataLoader:
        return DataLoader(windows, batch_size=self.batch_size, collate_fn=batch_collate,
                          num_workers=self.num_workers, **kwargs)

    # -- prediction ------------------------------------------------------------------------
    def _setup_predict(self) -> None:
        """One window per series of the predict table, ending at its last observed target
        (less ``holdout`` steps); the rows after it give the horizon's times, known-future
        covariates and (when present) the truth."""
        if self.fitted is None:
            self.setup("fit")
        series, source = self.read_series(self.predict_path or self.path)
        index = self._scaler_index(series, source)
        window = self.lookback + self.horizon
        blocks, self.forecasts = [], []
        for s, i in zip(series, index, strict=True):
            history, ahead = self._split_at_origin(s, source)
            block = self._normalise(pd.concat([history.iloc[-self.lookback :],
                                               ahead.iloc[: self.horizon]]), i)
            blocks.append(_pad_rows(block, window))  # unknown values ahead: NaN
            truth = _pad_rows(ahead[self.targets].to_numpy()[: self.horizon], self.horizon)
            self.forecasts.append(Forecast(s.name, history[[self.time_name, *self.targets]],
                                           self._horizon_times(history, ahead), truth))
        values = torch.from_numpy(np.concatenate(blocks))  # (series * window, columns)
        self.windows["predict"] = self._windows(values, np.arange(len(blocks)) * window,
                                                np.asarray(index))

    def _split_at_origin(self, series: Series, source: Source
                         ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """History (up to the forecast origin, missing values handled) and the rows after it."""
        frame = series.frame
        observed = np.flatnonzero(frame[self.targets].notna().all(axis=1).to_numpy())
        origin = (observed[-1] + 1 if len(observed) else 0) - self.holdout
        if origin < self.lookback:
            raise DataError(f"{source.name}: series '{series.name}' has {max(origin, 0)} observed "
                            f"rows before the forecast origin, fewer than data.lookback = "
                            f"{self.lookback}" + (f" (after data.holdout = {self.holdout})"
                                                  if self.holdout else ""))
        history = self._filled(Series(series.name, frame.iloc[:origin]), source).frame
        ahead = frame.iloc[origin:].reset_index(drop=True)
        if self.future:
            known = ahead[self.future].iloc[: self.horizon]
            if len(known) < self.horizon or known.isna().any().any():
                raise DataError(f"{source.name}: series '{series.name}' needs the known-future "
                                f"covariates {self.future} of the {self.horizon} steps after its "
                                f"last observed target; give {self.horizon} rows after it with "
                                "those columns filled")
        return history, ahead

    def _horizon_times(self, history: pd.DataFrame, ahead: pd.DataFrame) -> list[Any]:
        """The time stamps of the horizon: those of the rows after the origin, then continued
        with the last step between two rows."""
        times = list(pd.concat([history[self.time_name], ahead[self.time_name]]))
        step = times[-1] - times[-2] if len(times) > 1 else 1
        origin = len(history)
        while len(times) < origin + self.horizon:
            times.append(times[-1] + step)
        return times[origin : origin + self.horizon]

    def format_predictions(self, outputs: list[dict[str, torch.Tensor]]) -> pd.DataFrame:
        """The task's ``predict_step`` outputs as one row per series and horizon step.

        Each output maps a name to ``(B, horizon, n_targets)`` values in original units:
        ``mean`` becomes the column ``<target>``, any other name ``<target>_<name>`` (e.g.
        ``_lower``/``_upper`` interval bounds); ``<target>_true`` holds the truth when known.
        """
        names = list(outputs[0])
        values = {name: torch.cat([o[name] for o in outputs]).cpu().numpy() for name in names}
        count, horizon = len(self.forecasts), self.horizon
        frame = pd.DataFrame({
            self.id_column or "series": np.repeat([f.name for f in self.forecasts], horizon),
            self.time_name: [t for f in self.forecasts for t in f.times],
            "step": np.tile(np.arange(1, horizon + 1), count),
        })
        truth = np.concatenate([f.truth for f in self.forecasts])  # (N * H, n_targets)
        for j, target in enumerate(self.targets):
            for name in names:
                column = target if name == "mean" else f"{target}_{name}"
                frame[column] = values[name][..., j].reshape(-1)
            if not np.isnan(truth[:, j]).all():
                frame[f"{target}_true"] = truth[:, j]
        return frame

    def plot_predictions(self, predictions: pd.DataFrame, path: str | Path) -> Path:
        """Write a PNG of each series' recent history, forecast, interval and truth."""
        from seqlstm.data.series.plot import plot_forecasts

        return plot_forecasts(predictions, self.forecasts, self.targets, self.time_name,
                              self.id_column or "series", self.units, self.lookback, path)


def _pad_rows(values: np.ndarray, rows: int) -> np.ndarray:
    """``values`` with NaN rows appended up to ``rows`` rows."""
    return np.pad(values, ((0, rows - len(values)), (0, 0)), constant_values=np.nan)
