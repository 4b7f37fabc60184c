"""What ``seqlstm-export`` traces of a :class:`~seqlstm.tasks.forecaster.Forecaster`: its
network with the per-window transform and the static inputs inside the graph.

The exported graph reads the window as the data module gives it (standardised per series) and
answers in the same units, as :meth:`~seqlstm.tasks.forecaster.Forecaster.step_outputs` does:
RevIN's window statistics (and ``relative=true``'s last value) are computed in the graph from
the chunk it is given, so a direct forecaster with a transform is exported as a function of its
whole lookback window (from zero state). Static covariates and the series row are extra named
inputs after the state (see :meth:`ForecastExport.export_inputs`). Refused, each naming its
config key: ``relative=seasonal`` (the rows of the seasonal naive forecast depend on the
window's length, which the graph leaves dynamic) and a transform with the autoregressive
strategy (its steps are normalised by statistics of a lookback that a step-by-step graph never
sees whole).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from seqlstm.tasks.forecast_inputs import ForecastInputs

#: export inputs that are int64 (category codes, series rows); the others are float32
INTEGER_INPUTS = ("static_categorical", "series")


class ForecastExport:
    """The export hooks of a forecaster (a mixin: it reads the forecaster's ``strategy``,
    ``relative``, ``normalization``, ``statics``, ``spec`` and ``num_future``)."""

    strategy: str
    relative: str
    normalization: str
    statics: Any
    spec: Any
    num_future: int
    integer_export_inputs = INTEGER_INPUTS

    def export_inputs(self) -> dict[str, list[int | str]]:
        """The direct strategy's known-future covariates over the horizon (``future``), and
        the static inputs: ``static_categorical`` (codes), ``static_real`` (standardised, as
        in ``spec.extra["static_values"]``) and ``series`` (the scaler row, for a series
        embedding), each when the model has any."""
        inputs: dict[str, list[int | str]] = {}
        if self.strategy == "direct" and self.num_future:
            inputs["future"] = ["batch", self.spec.horizon, self.num_future]
        if self.statics is not None:
            if len(self.statics.categorical):
                inputs["static_categorical"] = ["batch", len(self.statics.categorical)]
            if self.statics.real:
                inputs["static_real"] = ["batch", self.statics.real]
            if self.statics.series is not None:
                inputs["series"] = ["batch"]
        return inputs

    def export_refusal(self) -> str | None:
        key = "model.task_options.real."
        if self.relative == "seasonal":
            return (f"{key}relative=seasonal: the rows of the seasonal naive forecast depend on "
                    "the window's length, which an exported graph leaves dynamic; export "
                    "covers relative=false or true")
        if self.strategy == "autoregressive" and self.normalization != "none":
            return (f"{key}normalization={self.normalization} with strategy=autoregressive: "
                    "its steps are normalised by the statistics of the lookback window, which "
                    "a step-by-step graph never sees whole; export covers it with "
                    "strategy=direct (or normalization=none)")
        if self.strategy == "autoregressive" and self.relative != "none":
            return (f"{key}relative=true with strategy=autoregressive: its steps are relative "
                    "to the last value of the lookback window, which a step-by-step graph "
                    "never sees whole; export covers it with strategy=direct (or "
                    "relative=false)")
        return super().export_refusal()  # type: ignore[misc]

    def export_network(self) -> nn.Module:
        return ForecastNetwork(self)


class ForecastNetwork(ForecastInputs, nn.Module):
    """``(inputs (B, T, F), state, *extra in export_inputs order) -> (outputs, state)``: the
    forecaster's transform, static inputs, encoder, head and the transform's inverse, as
    :meth:`~seqlstm.tasks.forecaster.Forecaster.step_outputs` computes them (the task's
    modules and parameters, shared)."""

    def __init__(self, task: Any) -> None:
        super().__init__()
        self.spec, self.scaler, self.num_future = task.spec, task.scaler, task.num_future
        self.relative, self.normalization = task.relative, task.normalization
        self.revin_affine, self.series_dim = task.revin_affine, task.series_dim
        self.encoder, self.head, self.statics, self.dist = (task.encoder, task.head,
                                                             task.statics, task.dist)
        if task.normalization == "revin" and task.revin_affine:
            self.revin_weight, self.revin_bias = task.revin_weight, task.revin_bias
        self.direct, self.names = task.strategy == "direct", list(task.export_inputs())

    def forward(self, inputs: torch.Tensor, state: Any, *extra: torch.Tensor
                ) -> tuple[torch.Tensor, Any]:
        batch = {"inputs": inputs, **dict(zip(self.names, extra, strict=True))}
        if self.statics is not None:  # the kinds the model has none of: empty
            size = inputs.size(0)
            batch.setdefault("static_categorical", inputs.new_zeros(size, 0, dtype=torch.long))
            batch.setdefault("static_real", inputs.new_zeros(size, 0))
        prepared, transform = self.prepare(batch)
        features, state = self.encoder(prepared["inputs"], state)  # (B, T, H)
        outputs = self.head(features, prepared["future"]) if self.direct else \
            self.head(features)
        if transform is not None:
            outputs = self.dist.affine(outputs, transform.out_loc, transform.out_scale)
        return outputs, state
