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

The module follows the prediction contract of :mod:`seqlstm.spec`; the forecasts' table and
plot are made in :mod:`seqlstm.data.series.predictions`.

``spec.extra`` (the fitted state, plain data): ``series`` (ids, in scaler order), ``columns``
(targets, then past and future covariates), ``targets``, ``past_covariates``,
``future_covariates``, ``mean`` and ``std`` (one list per series, one value per column) and
``season`` (of the seasonal naive forecast in each batch's ``naive``), and with static
covariates their categories and per-series values (see
:func:`~seqlstm.data.series.statics.fit_statics`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch

from seqlstm.data.series.loaders import SeriesLoaders
from seqlstm.data.series.missing import fill_missing
from seqlstm.data.series.predictions import Forecasts, forecast_table, origin_windows
from seqlstm.data.series.reading import LAYOUTS, TableSchema, read_store
from seqlstm.data.series.splits import fit_scaler, split_cuts, step_pairs, window_counts
from seqlstm.data.series.statics import fit_statics, static_inputs
from seqlstm.data.series.store import SeriesStore, check_counts, check_domain
from seqlstm.data.series.tables import MISSING_POLICIES
from seqlstm.data.series.windows import SeriesWindows
from seqlstm.data.streams import ResumePoint, StreamPart
from seqlstm.errors import ConfigError, DataError, check_int, check_split
from seqlstm.spec import SPLITS, DataSpec, Layout, SeriesScaler
from seqlstm.target_transforms import TargetTransform


class TimeSeriesDataModule(SeriesLoaders, L.LightningDataModule):
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
        layout: ``long`` (rows of series, an id column) or ``wide`` (one column per series).
        cache_dir: keep the checked table here as ``.npy`` files, memory-mapped on later runs.
        out_of_core: stream the first read of a long CSV/Parquet table into ``cache_dir`` in
            chunks (true), read it in memory (false), or stream files of 64 MiB or more (auto).
        windows_per_epoch: random training windows per epoch, drawn with replacement (None:
            every window once per epoch).
        counts: the targets are counts (checked: non-negative whole numbers), as the count
            losses (``poisson``, ``negative_binomial``) require.
        target_transform: model the targets through ``none``, ``log``, ``log1p`` or ``sqrt``
            (checked: every target value in its domain), applied before the per-series
            scaling and undone for metrics and forecasts; see
            :mod:`seqlstm.target_transforms`.
        static_categorical: columns of a long table with one category per series (checked:
            constant within each series), embedded by the forecaster.
        static_real: columns with one number per series, standardised over the series.
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
        layout: str = "long",
        cache_dir: str | None = None,
        out_of_core: bool | str = "auto",
        windows_per_epoch: int | None = None,
        counts: bool = False,
        target_transform: str = "none",
        static_categorical: Sequence[str] = (),
        static_real: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["path", "fitted", "predict_path"])
        # an in-memory table cannot travel in a checkpoint; prediction then needs predict_path
        # (and a Path is kept as text: checkpoints load with weights_only=True)
        self.hparams["path"] = None if isinstance(path, pd.DataFrame) or path is None \
            else str(path)
        for key, value in (("lookback", lookback), ("horizon", horizon), ("stride", stride),
                           ("batch_size", batch_size), ("season", season)):
            check_int(f"data.{key}", value, 1)
        check_int("data.holdout", holdout, 0)
        if windows_per_epoch is not None:
            check_int("data.windows_per_epoch", windows_per_epoch, 1)
        if layout not in LAYOUTS:
            raise ConfigError("data.layout", f"one of {list(LAYOUTS)}", layout)
        if stateful and stride != 1:
            raise ConfigError("data.stride", "1 with data.stateful=true (streams read every step)",
                              stride)
        self.target_transform = TargetTransform(target_transform)
        if counts and not self.target_transform.identity:
            raise ConfigError("data.target_transform", "none with data.counts=true (the count "
                              "likelihoods model the counts themselves)", target_transform)
        if missing not in MISSING_POLICIES:
            raise ConfigError("data.missing", f"one of {list(MISSING_POLICIES)}", missing)
        if lookback < season * -(-horizon // season):
            raise ConfigError("data.lookback", f">= one season before every horizon step "
                              f"(season * ceil(horizon / season) = "
                              f"{season * -(-horizon // season)})", lookback)
        split = check_split("data.split", split)
        self.schema = TableSchema.from_config(targets, past_covariates, future_covariates,
                                              time_column, id_column, time_format,
                                              static_categorical, static_real)
        if (static_categorical or static_real) and (layout == "wide" or stateful):
            raise ConfigError("data.static_categorical/static_real", "empty with "
                              + ("data.layout=wide" if layout == "wide" else
                                 "data.stateful=true (streams read no static covariates)"),
                              [*static_categorical, *static_real])
        self.targets, self.past, self.future = self.schema.targets, self.schema.past, \
            self.schema.future
        self.columns = self.schema.columns
        self.layout = Layout(len(self.targets), len(self.past), len(self.future))
        if layout == "wide" and (len(self.columns) > 1 or id_column is not None):
            raise ConfigError("data.layout", "long for a table with covariates, several targets "
                              "or an id column (wide: one column per series of one target)",
                              layout)
        self.table_layout, self.cache_dir, self.out_of_core = layout, cache_dir, out_of_core
        self.windows_per_epoch, self.counts = windows_per_epoch, bool(counts)
        self.sampler_seed = torch.initial_seed()  # set by seed_everything
        self.path, self.predict_path, self.fitted = path, predict_path, fitted
        self.lookback, self.horizon, self.stride, self.season = lookback, horizon, stride, season
        self.split, self.batch_size, self.missing = split, batch_size, missing
        self.holdout, self.units, self.num_workers = holdout, units, num_workers
        self.stateful = stateful
        self.windows: dict[str, SeriesWindows] = {}
        self.store: SeriesStore | None = None
        self.cuts = np.zeros((0, 4), dtype=np.int64)
        self.pairs: dict[str, list[StreamPart]] = {}
        self.resume_point = ResumePoint()
        self.forecasts: Forecasts | None = None
        self._scaler: SeriesScaler | None = None
        self._scaler_of: dict[str, Any] | None = None

    @property
    def time_name(self) -> str:
        return self.schema.time_name

    def read_store(self, path: str | Path | pd.DataFrame | None) -> SeriesStore:
        """The checked series of the table at ``path`` (see :func:`read_store`)."""
        if path is None:
            raise ConfigError("data.path", "a table file (an in-memory DataFrame does not travel "
                              "in checkpoints; give data.predict_path)", None)
        return read_store(path, self.schema, self.table_layout, self.cache_dir,
                          self.out_of_core)

    # -- fitting and windows ---------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        """Read, check and fit the table, then build what the run uses: windows, or the
        one-step pairs of stateful streams (``stage="predict"``: one window per series)."""
        if stage == "predict":
            if self.forecasts is None:
                self._setup_predict()
            return
        if self.windows or self.pairs:
            return
        store = fill_missing(self.read_store(self.path), self.columns, self.missing,
                             self.time_name)
        window = self.lookback + self.horizon
        short = np.flatnonzero(store.lengths < window)
        if len(short):
            i = int(short[0])
            raise DataError(f"{store.source.name}: series '{store.names[i]}' has "
                            f"{store.lengths[i]} rows, fewer than data.lookback + data.horizon "
                            f"= {window}")
        if self.counts:
            check_counts(store, self.targets)
        check_domain(store, self.targets, self.fitted_transform())
        cuts = split_cuts(store.lengths, self.split)
        self.store, self.cuts = store, cuts  # backtests place their origins in them
        if self.fitted is None:
            self.fitted = self._fit(store, cuts)
        owners = self._scaler_rows(store)
        if self.stateful:
            scaled = self.scaler.scale(store.values, np.repeat(owners, store.lengths))
            self.pairs = step_pairs(scaled, store.offsets, cuts, owners, self.layout,
                                    self.season, self.fitted["series"])
        else:
            self._build_windows(store, cuts, owners)

    def _build_windows(self, store: SeriesStore, cuts: np.ndarray, owners: np.ndarray) -> None:
        """Every split's windows: starts ``stride`` apart, never crossing a split boundary."""
        window = self.lookback + self.horizon
        values = torch.from_numpy(store.values)  # (N, C) original units, shared with the store
        for k, name in enumerate(SPLITS):
            first, counts = window_counts(cuts, k, window, self.stride)
            if counts.sum() == 0 and (name != "test" or self.split[2] > 0):
                longest = int((cuts[:, k + 1] - cuts[:, k]).max())
                raise DataError(f"{store.source.name}: the {name} split holds no window of "
                                f"data.lookback + data.horizon = {window} rows (its longest "
                                f"series part has {longest}); use longer series, a larger "
                                f"{name} fraction in data.split or a smaller data.lookback")
            if counts.sum():
                self.windows[name] = self._windows(values, store.offsets[:-1] + first, counts,
                                                   owners, statics=self.static_inputs(store))

    def _fit(self, store: SeriesStore, cuts: np.ndarray) -> dict[str, Any]:
        """The fitted state: per-series scalers of every column on training rows alone, the
        column names and the season."""
        scaler = fit_scaler(store, cuts, self.target_transform, len(self.targets))
        return {**scaler.as_extra(), "columns": list(self.columns),
                "targets": list(self.targets), "past_covariates": list(self.past),
                "future_covariates": list(self.future), "season": self.season,
                **({"counts": True} if self.counts else {}), **fit_statics(store.statics)}

    def fitted_transform(self) -> TargetTransform:
        """The target transform of the fitted scalers (before fitting: the configured one);
        a checkpoint's that differs from ``data.target_transform`` is an error."""
        if self.fitted is None:
            return self.target_transform
        fitted = TargetTransform(self.fitted.get("target_transform", "none"))
        if fitted != self.target_transform:
            raise ConfigError("data.target_transform", f"{fitted.name}, as the fitted scalers "
                              "(the checkpoint's) were", self.target_transform.name)
        return fitted

    @property
    def scaler(self) -> SeriesScaler:
        if self._scaler is None or self._scaler_of is not self.fitted:
            self._scaler = SeriesScaler.from_extra(self.fitted, len(self.columns))
            self._scaler_of = self.fitted
        return self._scaler

    def _scaler_rows(self, store: SeriesStore) -> np.ndarray:
        """``(S,)`` each series' row in the fitted scalers; a series never seen in training is
        an error."""
        if list(self.fitted.get("columns", [])) != self.columns:
            raise DataError(f"the fitted scalers are for columns {self.fitted.get('columns')}, "
                            f"but the data config names {self.columns}")
        try:
            return self.scaler.rows(store.names)
        except DataError as err:
            raise DataError(f"{store.source.name}: {err}") from None

    def static_inputs(self, store: SeriesStore) -> tuple[np.ndarray, np.ndarray] | None:
        """Each series' static covariates as the model reads them (see
        :func:`~seqlstm.data.series.statics.static_inputs`); None without any."""
        return static_inputs(store.statics, store, self.fitted)

    def _windows(self, values: torch.Tensor, first: np.ndarray, counts: np.ndarray,
                 owners: np.ndarray, stride: int | None = None,
                 statics: tuple[np.ndarray, np.ndarray] | None = None) -> SeriesWindows:
        return SeriesWindows(values, first, counts, owners, self.scaler, self.layout,
                             self.lookback, self.horizon, self.season, stride or self.stride,
                             statics)

    @property
    def spec(self) -> DataSpec:
        if self.fitted is None:
            raise RuntimeError("call setup() before reading spec")
        extra = {**self.fitted, "stateful": True} if self.stateful else self.fitted
        return DataSpec(input_kind="real", target_kind="real", input_size=self.layout.width,
                        output_size=self.layout.targets, horizon=self.horizon, extra=extra)

    # -- prediction ------------------------------------------------------------------------
    def _setup_predict(self) -> None:
        """One window per series of the predict table, ending at its last observed target
        (less ``holdout`` steps); the rows after it give the horizon's times, known-future
        covariates and (when present) the truth."""
        if self.fitted is None:
            self.setup("fit")
        store = self.read_store(self.predict_path or self.path)
        owners = self._scaler_rows(store)
        check_domain(store, self.targets, self.fitted_transform())
        window, self.forecasts = origin_windows(store, self.schema, self.missing, self.lookback,
                                                self.horizon, self.holdout)
        size = window.shape[1]
        values = torch.from_numpy(window.reshape(-1, window.shape[-1]))  # (S * (L+H), C)
        self.windows["predict"] = self._windows(values, np.arange(len(window)) * size,
                                                np.ones(len(window), dtype=np.int64), owners,
                                                statics=self.static_inputs(store))

    def format_predictions(self, outputs: list[dict[str, torch.Tensor]]) -> pd.DataFrame:
        """The task's ``predict_step`` outputs as one row per series and horizon step (see
        :func:`~seqlstm.data.series.predictions.forecast_table`)."""
        return forecast_table(outputs, self.forecasts, self.targets, self.time_name,
                              self.schema.id_name, self.horizon)

    def plot_predictions(self, predictions: pd.DataFrame, path: str | Path) -> Path:
        """Write a PNG of each series' recent history, forecast, interval and truth."""
        from seqlstm.data.series.plot import plot_forecasts

        return plot_forecasts(predictions, self.forecasts, self.targets, self.time_name,
                              self.schema.id_name, self.units, self.lookback, path)
