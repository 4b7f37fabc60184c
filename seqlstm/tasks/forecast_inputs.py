"""What the network of a :class:`~seqlstm.tasks.forecaster.Forecaster` reads: batches with
their optional keys filled in, the per-window transform of the targets
(:mod:`seqlstm.tasks.forecast_windows`), the static covariates and series embedding appended to
every input step, and batches made from raw history in original units.

Static covariates (``spec.extra["static_categorical"]``: each column's categories;
``spec.extra["static_real"]``: column names) come in batches as ``static_categorical``
``(B, K_cat)`` codes and ``static_real`` ``(B, K_real)`` standardised values; a batch without
them (a forecast from raw history) takes each series' own from ``spec.extra["static_codes"]``
and ``spec.extra["static_values"]`` (one row per series).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from seqlstm.errors import DataError
from seqlstm.nn import StaticEmbedding
from seqlstm.spec import SeriesScaler, window_inputs
from seqlstm.tasks.forecast_windows import WindowTransform, window_transform

Batch = dict[str, torch.Tensor]


class ForecastInputs:
    """Batch completion, window transforms, static inputs and history batches (a mixin: it
    reads the forecaster's ``spec``, ``scaler``, ``num_future``, ``relative``,
    ``normalization``, ``revin_affine`` and ``series_dim``)."""

    spec: Any
    scaler: SeriesScaler
    num_future: int
    relative: str
    normalization: str
    revin_affine: bool
    series_dim: int
    statics: StaticEmbedding | None

    def build_statics(self) -> StaticEmbedding | None:
        """The embedding of the spec's static covariates and of the series ids, if any."""
        extra = self.spec.extra
        categories = [len(c) for c in (extra.get("static_categorical") or {}).values()]
        real = len(extra.get("static_real") or [])
        if not categories and not real and not self.series_dim:
            return None
        return StaticEmbedding(categories, real, len(extra.get("series") or [0]),
                               self.series_dim)

    def static_inputs(self, batch: Batch) -> torch.Tensor | None:
        """``(B, width)`` the static inputs of each window's series (None: there are none)."""
        if self.statics is None:
            return None
        series = batch["series"]
        codes, real = batch.get("static_categorical"), batch.get("static_real")
        if codes is None:
            extra = self.spec.extra
            codes = torch.as_tensor(extra.get("static_codes") or [[]] * len(self.scaler.series),
                                    dtype=torch.long, device=series.device)[series]
            real = torch.as_tensor(extra.get("static_values") or [[]] * len(self.scaler.series),
                                   dtype=batch["inputs"].dtype, device=series.device)[series]
        return self.statics(codes, real.to(batch["inputs"].dtype), series)

    def window_transform(self, inputs: torch.Tensor) -> WindowTransform | None:
        """The per-window transform of ``inputs`` ``(B, T, F)``; None: none."""
        affine = (self.revin_weight, self.revin_bias) if self.revin_affine and \
            self.normalization == "revin" else None
        return window_transform(inputs, self.spec.output_size, self.spec.horizon,
                                self.relative, self.normalization, self.spec.extra.get("season"),
                                affine)

    def prepare(self, batch: Batch) -> tuple[Batch, WindowTransform | None]:
        """``batch`` as the network reads it: optional keys filled in, the targets' columns
        (and, for teacher forcing, the targets) transformed, the static inputs appended to
        every step (and kept as ``static`` for the decoding steps); and the transform, whose
        outputs the forecaster maps back."""
        batch = self.with_defaults(batch)
        inputs = batch["inputs"]
        transform = self.window_transform(inputs)
        prepared = dict(batch)
        if transform is not None:
            inputs = prepared["inputs"] = transform.inputs(inputs)
            if "targets" in batch:  # teacher forcing reads them; a predict batch has none
                prepared["targets"] = transform.values_in(batch["targets"])
        static = self.static_inputs(batch)
        if static is not None:  # (B, S) -> every step (B, T, S)
            prepared["static"] = static
            prepared["inputs"] = torch.cat(
                [inputs, static[:, None].expand(-1, inputs.size(1), -1)], dim=-1)
        return prepared, transform

    def with_defaults(self, batch: Batch) -> Batch:
        """``batch`` with its optional keys filled in: no known-future covariates, and series 0
        (whose scaler is the identity when the spec carries none)."""
        inputs = batch["inputs"]
        size = inputs.size(0)
        return {"future": inputs.new_zeros(size, self.spec.horizon, 0),
                "series": torch.zeros(size, dtype=torch.long, device=inputs.device), **batch}

    def check_domain(self, history: torch.Tensor) -> None:
        """Every target value of ``history`` ``(B, T, C)`` lies where the model's target
        transform is defined."""
        transform, n = self.scaler.transform, self.spec.output_size
        bad = transform.outside(history[..., :n])
        if bad.any():
            b, t, j = (int(k[0]) for k in bad.nonzero(as_tuple=True))
            name = (self.spec.extra.get("targets") or [f"target {j}"] * n)[j]
            raise DataError(f"history row {b}, step {t}, target '{name}': "
                            f"{float(history[b, t, j]):g} is not {transform.expected} (the model "
                            f"was trained with data.target_transform={transform.name})")

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
        self.check_domain(history)
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
