"""Forecaster: the next ``horizon`` values of one or more series, in two strategies.

``direct``: the encoder reads the lookback window and one linear head maps its last step (with
the known-future covariates of the horizon) to every horizon step at once.

``autoregressive``: a one-step-ahead model. Training feeds the true targets of the horizon back
as inputs (teacher forcing, one pass over ``lookback + horizon - 1`` steps); evaluation and
prediction feed back its own forecasts, one recurrent step at a time, carrying the state.
Past-observed covariates are unknown beyond the origin and enter the decoding steps as zeros.

With ``relative``, both strategies see the targets relative to the last observed value of each
window and forecast changes from it (added back before the loss): a trend or a level beyond the
training range then stays within the range the model was trained on.

Batches hold ``inputs`` ``(B, T, F)`` and ``targets`` ``(B, horizon, n)``, and optionally
``future`` ``(B, horizon, F_future)`` known-future covariates, ``series`` ``(B,)`` rows of the
scalers in ``spec.extra``, ``naive`` ``(B, horizon, n)`` the seasonal naive forecast (MASE is
reported when ``spec.extra`` names a ``season``) and ``lengths`` (direct strategy only).

Losses are computed on standardised values; metrics and predictions are in original units,
using the per-series scalers the data module put in ``spec.extra``.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.regression import (
    MeanAbsoluteError,
    MeanSquaredError,
    SymmetricMeanAbsolutePercentageError,
)

from seqlstm.errors import ConfigError, DataError
from seqlstm.nn import DirectHead, StepHead
from seqlstm.spec import SeriesScaler, window_inputs
from seqlstm.tasks.base import Batch, SequenceTask
from seqlstm.tasks.figures import forecast_vs_truth
from seqlstm.tasks.forecast_metrics import MeanAbsoluteScaledError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STRATEGIES = ("direct", "autoregressive")
LOSSES = ("mse", "mae", "gaussian_nll")
MIN_VARIANCE = 1e-6


class Forecaster(SequenceTask):
    """Multi-step forecasts of real-valued targets. Metrics: MAE, RMSE, sMAPE, MASE.

    Args:
        strategy: ``direct`` or ``autoregressive``.
        loss: ``mse``, ``mae`` or ``gaussian_nll`` (a mean and a variance per step, giving
            prediction intervals).
        interval: the central probability of the prediction interval (``gaussian_nll``).
        relative: forecast changes from the last observed value instead of levels.
        **kwargs: see :class:`SequenceTask`.
    """

    def __init__(self, *args: Any, strategy: str = "direct", loss: str = "mse",
                 interval: float = 0.95, relative: bool = False, **kwargs: Any) -> None:
        if strategy not in STRATEGIES:
            raise ConfigError("model.task_options.real.strategy", f"one of {list(STRATEGIES)}",
                              strategy)
        if loss not in LOSSES:
            raise ConfigError("model.task_options.real.loss", f"one of {list(LOSSES)}", loss)
        if not 0 < interval < 1:
            raise ConfigError("model.task_options.real.interval", "a number in (0, 1)", interval)
        self.strategy, self.loss_name, self.interval = strategy, loss, interval
        self.relative = bool(relative)
        super().__init__(*args, **kwargs)
        if self.spec.input_kind != "real" or self.spec.target_kind != "real":
            raise ConfigError("data", "a real-valued data module with real targets for a "
                              "forecaster", f"{self.spec.input_kind}->{self.spec.target_kind}")
        if strategy == "autoregressive" and self.encoder.config.bidirectional:
            raise ConfigError("model.encoder.bidirectional", "false for the autoregressive "
                              "strategy (a backward pass would read the future)", True)
        if strategy == "autoregressive" and self.spec.variable_length:
            raise ConfigError("model.task_options.real.strategy", "direct for variable-length "
                              "sequences", strategy)
        #: the per-series scalers of every data column, fitted by the data module
        self.scaler = SeriesScaler.from_extra(self.spec.extra, self.spec.input_size)

    # -- shapes -----------------------------------------------------------------------------
    @property
    def num_past(self) -> int:
        return len(self.spec.extra.get("past_covariates", []))

    @property
    def num_future(self) -> int:
        return len(self.spec.extra.get("future_covariates", []))

    @property
    def step_width(self) -> int:
        """Outputs per horizon step: a mean per target, and a variance per target for NLL."""
        return self.spec.output_size * (2 if self.loss_name == "gaussian_nll" else 1)

    def build_head(self) -> nn.Module:
        if self.strategy == "autoregressive":
            return StepHead(self.encoder.output_size, self.step_width)
        return DirectHead(self.encoder.output_size, self.spec.horizon, self.step_width,
                          self.num_future)

    # -- forward ----------------------------------------------------------------------------
    def with_defaults(self, batch: Batch) -> Batch:
        """``batch`` with its optional keys filled in: no known-future covariates, and series 0
        (whose scaler is the identity when the spec carries none)."""
        inputs = batch["inputs"]
        size = inputs.size(0)
        return {"future": inputs.new_zeros(size, self.spec.horizon, 0),
                "series": torch.zeros(size, dtype=torch.long, device=inputs.device), **batch}

    def step_outputs(self, batch: Batch, stage: str = "predict") -> torch.Tensor:
        """``(B, horizon, step_width)`` outputs in standardised units: windows start from zero
        state; stateful streams (``stage`` names whose state they carry) go to
        :meth:`stream_outputs`."""
        if "reset" in batch:  # stateful streams: one-step-ahead outputs at every step
            return self.stream_outputs(batch, stage)
        batch = self.with_defaults(batch)
        if not self.relative:
            return self.strategy_outputs(batch)
        n = self.spec.output_size
        inputs = batch["inputs"]
        level = inputs[:, -1:, :n]  # (B, 1, n): the last observed targets
        shifted = torch.cat([inputs[..., :n] - level, inputs[..., n:]], dim=-1)
        shifted_batch = {**batch, "inputs": shifted}
        if "targets" in batch:  # teacher forcing reads them; a predict batch has none
            shifted_batch["targets"] = batch["targets"] - level
        outputs = self.strategy_outputs(shifted_batch)
        return torch.cat([outputs[..., :n] + level, outputs[..., n:]], dim=-1)

    def stream_outputs(self, batch: Batch, stage: str) -> torch.Tensor:
        """``(B, T, step_width)`` outputs of a stateful batch, each step predicting the next,
        from (and keeping) the carried state: the training of the autoregressive strategy."""
        if self.strategy != "autoregressive":
            raise ConfigError("model.task_options.real.strategy", "autoregressive with "
                              "data.stateful=true (streams train a one-step model)", self.strategy)
        if self.relative:
            raise ConfigError("model.task_options.real.relative", "false with data.stateful=true "
                              "(a stream has no window to be relative to)", True)
        return super().step_outputs(batch, stage)

    @property
    def per_step_outputs(self) -> bool:
        """The autoregressive strategy answers at every step; the direct one once per window."""
        return self.strategy == "autoregressive"

    def export_inputs(self) -> dict[str, list[int | str]]:
        """The direct strategy's known-future covariates over the horizon, when it has any."""
        if self.strategy == "direct" and self.num_future:
            return {"future": ["batch", self.spec.horizon, self.num_future]}
        return {}

    def export_refusal(self) -> str | None:
        if self.relative:
            return ("a relative forecaster shifts its windows outside the network; export "
                    "covers forecasters with relative=false")
        return super().export_refusal()

    def history_batch(self, history: torch.Tensor, series: torch.Tensor,
                      future: torch.Tensor | None = None) -> Batch:
        """A predict batch from ``history`` ``(B, T, C)`` in original units (every data column:
        targets, past, then future covariates, over the last ``T`` steps) of the scaler rows
        ``series`` ``(B,)``; ``future`` ``(B, horizon, F_future)`` are the known-future
        covariates over the horizon, needed exactly when the data has any."""
        if (future is None) != (self.num_future == 0):
            raise DataError(f"expected future covariates {self.spec.extra['future_covariates']} "
                            f"over the {self.spec.horizon}-step horizon" if future is None else
                            "the model has no future covariates; pass future=None")
        scaled = self.scaler.scale(history, series)  # (B, T, C)
        observed = scaled.size(-1) - self.num_future
        if future is None:
            return {"inputs": scaled, "series": series}
        if future.shape[1:] != (self.spec.horizon, self.num_future):
            raise DataError(f"expected future covariates of shape (horizon={self.spec.horizon}, "
                            f"{self.num_future}), got {tuple(future.shape[1:])}")
        ahead = self.scaler.scale(future, series, slice(observed, None))  # (B, H, F_future)
        # history and horizon as one window; the horizon's observed columns are unknown (zeros)
        window = torch.cat([scaled, nn.functional.pad(ahead, (observed, 0))], dim=1)
        return {"inputs": window_inputs(window, scaled.size(1), observed), "future": ahead,
                "series": series}

    def strategy_outputs(self, batch: Batch) -> torch.Tensor:
        """Outputs of the direct or autoregressive strategy for ``batch`` as it is."""
        if self.strategy == "direct":
            lengths = batch.get("lengths")
            features, _ = self.features(batch["inputs"], lengths=lengths)  # (B, L, H)
            return self.head(features, batch["future"], lengths)  # (B, horizon, W)
        if self.training:
            return self.teacher_forced(batch)
        return self.recursive(batch)

    def decoder_inputs(self, values: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
        """Input rows after the origin: targets ``(B, K, n)``, zeros for past covariates and
        the known-future covariates one step ahead ``(B, K, F)`` -> ``(B, K, input_size)``."""
        past = values.new_zeros(*values.shape[:2], self.num_past)
        return torch.cat([values, past, future], dim=-1)

    def teacher_forced(self, batch: Batch) -> torch.Tensor:
        inputs, targets, future = batch["inputs"], batch["targets"], batch["future"]
        teacher = self.decoder_inputs(targets[:, :-1], future[:, 1:])  # (B, H-1, F)
        outputs, _ = self(torch.cat([inputs, teacher], dim=1))  # (B, L+H-1, W)
        return outputs[:, inputs.size(1) - 1 :]  # (B, H, W): step t predicts t+1

    def recursive(self, batch: Batch) -> torch.Tensor:
        future = batch["future"]
        outputs, state = self(batch["inputs"])
        step = outputs[:, -1:]  # (B, 1, W)
        steps = [step]
        for k in range(1, self.spec.horizon):
            row = self.decoder_inputs(step[..., : self.spec.output_size], future[:, k : k + 1])
            step, state = self(row, state)
            steps.append(step)
        return torch.cat(steps, dim=1)

    def split_outputs(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Mean ``(B, H, n)`` and, for ``gaussian_nll``, a positive variance of the same shape."""
        n = self.spec.output_size
        if self.loss_name != "gaussian_nll":
            return outputs, None
        return outputs[..., :n], nn.functional.softplus(outputs[..., n:]) + MIN_VARIANCE

    def original_units(self, values: torch.Tensor, series: torch.Tensor,
                       shift: bool = True) -> torch.Tensor:
        """Undo the per-series standardisation of ``(B, H, n)`` values (a scale alone when
        ``shift`` is false, e.g. for standard deviations)."""
        return self.scaler.unscale(values, series, slice(0, self.spec.output_size), shift)

    def validation_figures(self, batch: Batch) -> dict[str, Figure]:
        """Forecast against truth for the first target of the batch's first three windows, in
        original units, with the prediction interval when the loss gives one."""
        if "reset" in batch:  # one-step streams have no forecast horizon to draw
            return {}
        count = min(3, batch["inputs"].size(0))
        first = {key: value[:count] for key, value in self.with_defaults(batch).items()}
        predicted = self.predict_step(first, 0)
        n = self.spec.output_size
        history = self.original_units(first["inputs"][..., :n], first["series"])  # (S, T, n)
        truth = self.original_units(first["targets"], first["series"])  # (S, H, n)
        bounds = {key: predicted[key][..., 0] for key in ("lower", "upper") if key in predicted}
        target = (self.spec.extra.get("targets") or ["target"])[0]
        figure = forecast_vs_truth(history[..., 0], truth[..., 0], predicted["mean"][..., 0],
                                   **bounds, unit=target, epoch=self.current_epoch,
                                   interval=f"{self.interval:.0%} interval",
                                   names=[f"validation window {i + 1}" for i in range(count)])
        return {"forecast": figure}

    # -- training ---------------------------------------------------------------------------
    def loss(self, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
        mean, variance = self.split_outputs(outputs)
        targets = batch["targets"]
        if self.loss_name == "mse":
            return nn.functional.mse_loss(mean, targets)
        if self.loss_name == "mae":
            return nn.functional.l1_loss(mean, targets)
        return nn.functional.gaussian_nll_loss(mean, targets, variance)

    def batch_weight(self, batch: Batch) -> int:
        """Forecast steps scored: ``B x horizon`` for windows, ``B x T`` for stateful streams."""
        return batch["targets"][..., 0].numel()

    def build_metrics(self, stage: str) -> MetricCollection:
        metrics = {"mae": MeanAbsoluteError(), "rmse": MeanSquaredError(squared=False),
                   "smape": SymmetricMeanAbsolutePercentageError()}
        if "season" in self.spec.extra:
            metrics["mase"] = MeanAbsoluteScaledError()
        return MetricCollection(metrics, compute_groups=False)

    def update_metrics(self, metrics: MetricCollection, outputs: torch.Tensor, batch: Batch,
                       loss: torch.Tensor) -> None:
        batch = self.with_defaults(batch)
        series = batch["series"]
        mean, _ = self.split_outputs(outputs.detach())
        naive = {"naive": self.original_units(batch["naive"], series).flatten()} \
            if "mase" in metrics else {}
        metrics.update(self.original_units(mean, series).flatten(),
                       self.original_units(batch["targets"], series).flatten(), **naive)

    # -- prediction -------------------------------------------------------------------------
    @torch.no_grad()
    def predict_step(self, batch: Batch, batch_idx: int) -> dict[str, torch.Tensor]:
        """``mean`` forecasts ``(B, horizon, n_targets)`` in original units, and for
        ``gaussian_nll`` the ``lower`` and ``upper`` bounds of the central ``interval``."""
        series = self.with_defaults(batch)["series"]
        mean, variance = self.split_outputs(self.step_outputs(batch))
        result = {"mean": self.original_units(mean, series)}
        if variance is not None:
            spread = NormalDist().inv_cdf(0.5 + self.interval / 2) * self.original_units(
                variance.sqrt(), series, shift=False)
            result.update(lower=result["mean"] - spread, upper=result["mean"] + spread)
        return result
