"""Forecaster: the next ``horizon`` values of one or more series, in two strategies.

``direct``: the encoder reads the lookback window and one linear head maps its last step (with
the known-future covariates of the horizon) to every horizon step at once.

``autoregressive``: a one-step-ahead model. Training feeds the true targets of the horizon back
as inputs (teacher forcing, one pass over ``lookback + horizon - 1`` steps); evaluation and
prediction feed back its own forecasts, one recurrent step at a time, carrying the state.
Past-observed covariates are unknown beyond the origin and enter the decoding steps as zeros.

With ``relative``, both strategies see the targets relative to the last observed value of each
window and forecast changes from it (added back before the loss): a trend or a level beyond the
training range then stays within the range the model was trained on. ``relative="seasonal"``
forecasts changes from the seasonal naive forecast, ``normalization="revin"`` normalises each
window by its own mean and deviation (:mod:`seqlstm.tasks.forecast_windows`). Static
covariates of each series and a learned series embedding are appended to every input step
(:mod:`seqlstm.tasks.forecast_inputs`). Export: :mod:`seqlstm.tasks.forecast_export`.

Batches hold ``inputs`` ``(B, T, F)`` and ``targets`` ``(B, horizon, n)``, and optionally
``future`` ``(B, horizon, F_future)`` known-future covariates, ``series`` ``(B,)`` rows of the
scalers in ``spec.extra``, ``naive`` ``(B, horizon, n)`` the seasonal naive forecast (MASE is
reported when ``spec.extra`` names a ``season``) and ``lengths`` (direct strategy only).

Losses are computed on standardised values; metrics and predictions are in original units,
using the per-series scalers the data module put in ``spec.extra``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.regression import (
    MeanAbsoluteError,
    MeanSquaredError,
    SymmetricMeanAbsolutePercentageError,
)

from seqlstm.errors import ConfigError, check_int
from seqlstm.nn import DirectHead, EncoderConfig, RecurrentEncoder, StepHead
from seqlstm.spec import SeriesScaler
from seqlstm.tasks.base import Batch, SequenceTask
from seqlstm.tasks.distributions import (
    COUNT_LOSSES,
    LOSSES,
    OutputDistribution,
    check_quantiles,
)
from seqlstm.tasks.figures import forecast_vs_truth
from seqlstm.tasks.forecast_decoding import AutoregressiveDecoding
from seqlstm.tasks.forecast_export import ForecastExport
from seqlstm.tasks.forecast_inputs import ForecastInputs
from seqlstm.tasks.forecast_metrics import MeanAbsoluteScaledError
from seqlstm.tasks.forecast_sampling import SampledForecasts
from seqlstm.tasks.forecast_windows import (
    check_relative,
    check_window_options,
    resolve_normalization,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STRATEGIES = ("direct", "autoregressive")
DEFAULT_QUANTILES = (0.1, 0.5, 0.9)


class Forecaster(ForecastExport, ForecastInputs, AutoregressiveDecoding, SampledForecasts,
                 SequenceTask):
    """Multi-step forecasts of real-valued targets. Metrics: MAE, RMSE, sMAPE, MASE; with a
    probabilistic loss also interval coverage and width, weighted quantile loss and (for
    distributions) CRPS, on validation and test.

    Args:
        strategy: ``direct`` or ``autoregressive``.
        loss: ``mse``, ``mae``, or a probabilistic loss giving prediction intervals:
            ``gaussian_nll``, ``student_t``, ``poisson`` and ``negative_binomial`` (counts:
            needs ``data.counts=true``), ``quantile`` (pinball loss on ``quantiles``); see
            :mod:`seqlstm.tasks.distributions`.
        interval: the central probability of the prediction interval (distribution losses;
            the quantile loss's interval runs from its lowest to its highest quantile).
        relative: ``false``; ``true`` or ``last``: forecast changes from the last observed
            value instead of levels; ``seasonal``: changes from the seasonal naive forecast
            (``data.season``; direct strategy).
        normalization: ``none``, ``revin`` (each window's targets normalised by the mean
            and deviation of its lookback, the forecast de-normalised) or ``auto`` (see
            :func:`~seqlstm.tasks.forecast_windows.resolve_normalization`).
        revin_affine: RevIN's learnable affine (a scale and a shift per target).
        series_embedding: width of a learned embedding of each series id appended to every
            input step (0: none).
        quantiles: quantile levels (sorted, in (0, 1)): those the ``quantile`` loss learns
            (default 0.1, 0.5, 0.9), and those prediction writes as ``<target>_q<level>``.
        num_samples: draws per forecast for the quantiles of distributions without a closed
            form and for CRPS; the autoregressive strategy draws them as sample paths (each
            step fed back its own draw).
        **kwargs: see :class:`SequenceTask`.
    """

    def __init__(self, *args: Any, strategy: str = "direct", loss: str = "mse",
                 interval: float = 0.95, relative: bool | str = False,
                 quantiles: Sequence[float] | None = None, num_samples: int = 100,
                 normalization: str = "none", revin_affine: bool = True,
                 series_embedding: int = 0, **kwargs: Any) -> None:
        if strategy not in STRATEGIES:
            raise ConfigError("model.task_options.real.strategy", f"one of {list(STRATEGIES)}",
                              strategy)
        if loss not in LOSSES:
            raise ConfigError("model.task_options.real.loss", f"one of {list(LOSSES)}", loss)
        if not 0 < interval < 1:
            raise ConfigError("model.task_options.real.interval", "a number in (0, 1)", interval)
        check_int("model.task_options.real.num_samples", num_samples, 2)
        self.quantiles = check_quantiles(quantiles)
        relative = check_relative(relative)
        check_int("model.task_options.real.series_embedding", series_embedding, 0)
        self.strategy, self.loss_name, self.interval = strategy, loss, interval
        self.num_samples = num_samples
        self.revin_affine, self.series_dim = bool(revin_affine), series_embedding
        self.dist = OutputDistribution(loss, 0, self.quantiles or DEFAULT_QUANTILES)
        super().__init__(*args, **kwargs)
        if loss in COUNT_LOSSES and not self.spec.extra.get("counts"):
            raise ConfigError("model.task_options.real.loss", f"a count loss ({loss}) only "
                              "with data.counts=true (the targets checked as non-negative "
                              "whole numbers)", loss)
        if loss == "student_t" and self.spec.extra.get("target_transform") in ("log", "log1p"):
            raise ConfigError("model.task_options.real.loss", "gaussian_nll or quantile with "
                              f"data.target_transform={self.spec.extra['target_transform']} (a "
                              "Student-t's heavy tails, exponentiated, have no mean: its draws "
                              "make CRPS and sample means explode)", loss)
        if self.spec.input_kind != "real" or self.spec.target_kind != "real":
            raise ConfigError("data", "a real-valued data module with real targets for a "
                              "forecaster", f"{self.spec.input_kind}->{self.spec.target_kind}")
        if strategy == "autoregressive" and self.encoder.config.bidirectional:
            raise ConfigError("model.encoder.bidirectional", "false for the autoregressive "
                              "strategy (a backward pass would read the future)", True)
        if strategy == "autoregressive" and self.spec.variable_length:
            raise ConfigError("model.task_options.real.strategy", "direct for variable-length "
                              "sequences", strategy)
        self.relative = relative
        self.normalization = resolve_normalization(normalization, loss, self.spec.extra,
                                                   self.spec.variable_length)
        check_window_options(self.relative, self.normalization, loss, strategy)
        if (self.relative == "seasonal" or self.normalization == "revin") and \
                self.spec.variable_length:
            raise ConfigError("model.task_options.real.normalization" if self.normalization ==
                              "revin" else "model.task_options.real.relative", "none for "
                              "variable-length sequences", self.normalization if
                              self.normalization == "revin" else self.relative)
        if self.relative == "seasonal" and "season" not in self.spec.extra:
            raise ConfigError("model.task_options.real.relative", "false or true for data "
                              "without a season (data.season)", "seasonal")
        if self.normalization == "revin" and revin_affine:  # RevIN's learnable affine
            self.revin_weight = nn.Parameter(torch.ones(self.spec.output_size))
            self.revin_bias = nn.Parameter(torch.zeros(self.spec.output_size))
        #: the per-series scalers of every data column, fitted by the data module
        self.scaler = SeriesScaler.from_extra(self.spec.extra, self.spec.input_size)

    def build_encoder(self, input_size: int, config: EncoderConfig) -> RecurrentEncoder:
        """The encoder reads every data column and the static inputs (built here: the spec is
        known from this point on)."""
        self.statics = self.build_statics()
        width = 0 if self.statics is None else self.statics.width
        return super().build_encoder(input_size + width, config)

    # -- shapes -----------------------------------------------------------------------------
    @property
    def num_past(self) -> int:
        return len(self.spec.extra.get("past_covariates", []))

    @property
    def num_future(self) -> int:
        return len(self.spec.extra.get("future_covariates", []))

    @property
    def step_width(self) -> int:
        """Raw outputs per horizon step (see :mod:`seqlstm.tasks.distributions`)."""
        if self.dist.targets != self.spec.output_size:  # the spec is known from here on
            self.dist = OutputDistribution(self.loss_name, self.spec.output_size,
                                           self.dist.levels)
        return self.dist.width

    def build_head(self) -> nn.Module:
        if self.strategy == "autoregressive":
            return StepHead(self.encoder.output_size, self.step_width)
        return DirectHead(self.encoder.output_size, self.spec.horizon, self.step_width,
                          self.num_future)

    # -- forward ----------------------------------------------------------------------------
    def step_outputs(self, batch: Batch, stage: str = "predict") -> torch.Tensor:
        """``(B, horizon, step_width)`` outputs in standardised units: windows start from zero
        state; stateful streams (``stage`` names whose state they carry) go to
        :meth:`stream_outputs`."""
        if "reset" in batch:  # stateful streams: one-step-ahead outputs at every step
            return self.stream_outputs(batch, stage)
        prepared, transform = self.prepare(batch)
        outputs = self.strategy_outputs(prepared)
        if transform is None:
            return outputs
        return self.dist.affine(outputs, transform.out_loc, transform.out_scale)

    def stream_outputs(self, batch: Batch, stage: str) -> torch.Tensor:
        """``(B, T, step_width)`` outputs of a stateful batch, each step predicting the next,
        from (and keeping) the carried state: the training of the autoregressive strategy."""
        if self.strategy != "autoregressive":
            raise ConfigError("model.task_options.real.strategy", "autoregressive with "
                              "data.stateful=true (streams train a one-step model)", self.strategy)
        if self.relative != "none" or self.normalization != "none":
            raise ConfigError("model.task_options.real.relative" if self.relative != "none" else
                              "model.task_options.real.normalization", "false / none with "
                              "data.stateful=true (a stream has no window to be relative to)",
                              self.relative if self.relative != "none" else self.normalization)
        if self.statics is not None:
            raise ConfigError("model.task_options.real.series_embedding", "0 with "
                              "data.stateful=true (streams read no static inputs)",
                              self.series_dim)
        return super().step_outputs(batch, stage)

    @property
    def per_step_outputs(self) -> bool:
        """The autoregressive strategy answers at every step; the direct one once per window."""
        return self.strategy == "autoregressive"

    def strategy_outputs(self, batch: Batch) -> torch.Tensor:
        """Outputs of the direct or autoregressive strategy for ``batch`` as it is."""
        if self.strategy == "direct":
            lengths = batch.get("lengths")
            features, _ = self.features(batch["inputs"], lengths=lengths)  # (B, L, H)
            return self.head(features, batch["future"], lengths)  # (B, horizon, W)
        if self.training:
            return self.teacher_forced(batch)
        return self.recursive(batch)

    def point(self, outputs: torch.Tensor, series: torch.Tensor) -> torch.Tensor:
        """``(B, H, n)`` standardised point forecasts of raw ``outputs``."""
        return self.dist.point(outputs, *self.target_scale(series, outputs))

    def target_scale(self, series: torch.Tensor, like: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """The targets' per-series mean and standard deviation ``(B, 1, n)`` (of the
        transformed targets under ``data.target_transform``)."""
        return self.scaler.stats(series, slice(0, self.spec.output_size), like)

    def original_units(self, values: torch.Tensor, series: torch.Tensor) -> torch.Tensor:
        """Undo the per-series standardisation (and the target transform) of ``(B, H, n)``
        values."""
        return self.scaler.unscale(values, series, slice(0, self.spec.output_size))

    def untransformed(self, values: torch.Tensor) -> torch.Tensor:
        """Target ``values`` that the distribution heads give in transformed units (scaled
        by :meth:`target_scale`), in original units: the inverse of ``data.target_transform``
        (monotone, so quantiles stay quantiles)."""
        return self.scaler.transform.inverse(values)

    def validation_figures(self, batch: Batch) -> dict[str, Figure]:
        """Forecast against truth for the first target of the batch's first three windows, in
        original units; a probabilistic loss adds a fan of its quantile bands."""
        if "reset" in batch:  # one-step streams have no forecast horizon to draw
            return {}
        count = min(3, batch["inputs"].size(0))
        first = {key: value[:count] for key, value in self.with_defaults(batch).items()}
        predicted = self.predict_step(first, 0)
        n = self.spec.output_size
        history = self.original_units(first["inputs"][..., :n], first["series"])  # (S, T, n)
        truth = self.original_units(first["targets"], first["series"])  # (S, H, n)
        bands = [(predicted[f"q{lo:g}"][..., 0], predicted[f"q{hi:g}"][..., 0],
                  f"{hi - lo:.0%} interval") for lo, hi in self.fan_levels()]
        if "lower" in predicted:
            bands.insert(0, (predicted["lower"][..., 0], predicted["upper"][..., 0],
                             f"{self.interval_levels[1] - self.interval_levels[0]:.0%} "
                             "interval"))
        target = (self.spec.extra.get("targets") or ["target"])[0]
        figure = forecast_vs_truth(history[..., 0], truth[..., 0], predicted["mean"][..., 0],
                                   bands=bands, unit=target, epoch=self.current_epoch,
                                   names=[f"validation window {i + 1}" for i in range(count)])
        return {"forecast": figure}

    # -- training ---------------------------------------------------------------------------
    def loss(self, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
        series = self.with_defaults(batch)["series"]
        return self.dist.loss(outputs, batch["targets"], *self.target_scale(series, outputs))

    def batch_weight(self, batch: Batch) -> int:
        """Forecast steps scored: ``B x horizon`` for windows, ``B x T`` for stateful streams."""
        return batch["targets"][..., 0].numel()

    def build_metrics(self, stage: str) -> MetricCollection:
        metrics = {"mae": MeanAbsoluteError(), "rmse": MeanSquaredError(squared=False),
                   "smape": SymmetricMeanAbsolutePercentageError()}
        if "season" in self.spec.extra:
            metrics["mase"] = MeanAbsoluteScaledError()
        if stage != "train":
            metrics.update(self.probabilistic_metrics())
        return MetricCollection(metrics, compute_groups=False)

    def update_metrics(self, metrics: MetricCollection, outputs: torch.Tensor, batch: Batch,
                       loss: torch.Tensor) -> None:
        batch = self.with_defaults(batch)
        series = batch["series"]
        outputs = outputs.detach()
        point = self.original_units(self.point(outputs, series), series)
        targets = self.original_units(batch["targets"], series)
        naive = {"naive": self.original_units(batch["naive"], series).flatten()} \
            if "mase" in metrics else {}
        for name in ("mae", "rmse", "smape", "mase"):
            if name in metrics:
                metrics[name].update(point.flatten(), targets.flatten(),
                                     **(naive if name == "mase" else {}))
        if "coverage" in metrics:
            self.update_probabilistic(metrics, outputs, batch, targets)

    # -- prediction -------------------------------------------------------------------------
    @torch.no_grad()
    def predict_step(self, batch: Batch, batch_idx: int) -> dict[str, torch.Tensor]:
        """``mean`` forecasts ``(B, horizon, n_targets)`` in original units (the mean of the
        sample paths when there are any; the median for the quantile loss); a probabilistic
        loss adds the ``lower`` and ``upper`` bounds of its interval and ``q<level>`` for each
        of ``quantiles``."""
        batch = self.with_defaults(batch)
        series = batch["series"]
        outputs = self.step_outputs(batch)
        result = {"mean": self.original_units(self.point(outputs, series), series)}
        if not self.dist.probabilistic:
            return result
        levels = [*self.interval_levels, *self.quantiles]
        values, samples = self.forecast_quantiles(batch, outputs, levels)
        if samples is not None:
            result["mean"] = samples.mean(dim=0)
        result.update(lower=values[0], upper=values[1])
        result.update({f"q{q:g}": v for q, v in zip(self.quantiles, values[2:], strict=True)})
        return result
