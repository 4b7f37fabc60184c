"""The forecasting model of the hand-written and bare-Lightning baselines, and the timing of
predictions that every torch-based runner shares."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from fc_data import ForecastData
from torch import nn


class DirectLSTM(nn.Module):
    """LSTM over the lookback window; a linear map of the last hidden state gives all
    ``horizon`` steps at once (direct multi-step)."""

    def __init__(self, hidden: int, layers: int, dropout: float, horizon: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, num_layers=layers, dropout=dropout, batch_first=True)
        self.head = nn.Linear(hidden, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x.unsqueeze(-1))  # (B, T) -> (B, T, H)
        return self.head(out[:, -1])  # (B, horizon)


def add_model_args(p) -> None:
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True, help="where to save the test predictions (.npy)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=1e-3)


def add_quantiles_arg(p) -> None:
    """``--quantiles``: train with a likelihood and save quantiles ``(M, horizon, Q)`` at
    ``fc_data.LEVELS`` instead of point forecasts ``(M, horizon)``."""
    p.add_argument("--quantiles", action="store_true",
                   help="probabilistic: a likelihood, and quantiles at fc_data.LEVELS saved")


@torch.no_grad()
def predict_all(model: nn.Module, data: ForecastData, chunk: int = 4096) -> np.ndarray:
    """Forecasts ``(M, horizon)`` at every test origin."""
    model.eval()
    device = next(model.parameters()).device
    inputs, _ = data.windows(data.origin_starts())
    return np.concatenate([model(torch.from_numpy(inputs[i : i + chunk]).to(device)).cpu().numpy()
                           for i in range(0, len(inputs), chunk)])


def latency_ms(forecast: Callable[[], object], calls: int = 50) -> float:
    """Median wall time of one forecast call, in ms."""
    forecast()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        forecast()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def single_forecast(model: nn.Module, data: ForecastData) -> Callable[[], np.ndarray]:
    """One forecast from a plain array of the last ``lookback`` values, as a service would."""
    history = data.series(0)[: data.train_end[0]].copy()
    device = next(model.parameters()).device

    @torch.no_grad()
    def call() -> np.ndarray:
        model.eval()
        x = torch.from_numpy(history[-data.lookback :]).unsqueeze(0)  # (1, lookback)
        return model(x.to(device))[0].cpu().numpy()

    return call
