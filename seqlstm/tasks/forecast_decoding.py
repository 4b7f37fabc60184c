"""The autoregressive strategy of the :class:`~seqlstm.tasks.forecaster.Forecaster`: a
one-step-ahead model trained with teacher forcing and decoded recursively.

Training feeds the true targets of the horizon back as inputs (one pass over
``lookback + horizon - 1`` steps); evaluation and prediction feed back the model's own forecasts
(or draws, for sample paths), one recurrent step at a time, carrying the state. Past-observed
covariates are unknown beyond the origin and enter the decoding steps as zeros.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

Batch = dict[str, torch.Tensor]


class AutoregressiveDecoding:
    """Teacher forcing and recursive decoding (a mixin: it reads the forecaster's ``spec``,
    ``num_past``, its ``forward`` and :meth:`point`)."""

    spec: Any
    num_past: int

    def decoder_inputs(self, values: torch.Tensor, future: torch.Tensor,
                       static: torch.Tensor | None = None) -> torch.Tensor:
        """Input rows after the origin: targets ``(B, K, n)``, zeros for past covariates, the
        known-future covariates one step ahead ``(B, K, F)`` and the static inputs ``(B, S)``
        (when the batch has any) -> ``(B, K, encoder input)``."""
        past = values.new_zeros(*values.shape[:2], self.num_past)
        rows = [values, past, future]
        if static is not None:
            rows.append(static[:, None].expand(-1, values.size(1), -1))
        return torch.cat(rows, dim=-1)

    def teacher_forced(self, batch: Batch) -> torch.Tensor:
        inputs, targets, future = batch["inputs"], batch["targets"], batch["future"]
        teacher = self.decoder_inputs(targets[:, :-1], future[:, 1:],
                                      batch.get("static"))  # (B, H-1, F)
        outputs, _ = self(torch.cat([inputs, teacher], dim=1))  # (B, L+H-1, W)
        return outputs[:, inputs.size(1) - 1 :]  # (B, H, W): step t predicts t+1

    def recursive(self, batch: Batch,
                  draw: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        """Decode the horizon one step at a time, feeding back each step's point forecast
        (or ``draw(step)``, a standardised draw ``(B, 1, n)``: then the draws ``(B, H, n)``
        are returned instead of the outputs)."""
        future, series, static = batch["future"], batch["series"], batch.get("static")
        outputs, state = self(batch["inputs"])
        step = outputs[:, -1:]  # (B, 1, W)
        steps = []
        for k in range(self.spec.horizon):
            value = self.point(step, series) if draw is None else draw(step)  # (B, 1, n)
            steps.append(step if draw is None else value)
            if k + 1 < self.spec.horizon:
                rows = self.decoder_inputs(value, future[:, k + 1 : k + 2], static)
                step, state = self(rows, state)
        return torch.cat(steps, dim=1)
