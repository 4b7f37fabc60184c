"""The forecasting benchmark's data: a seeded synthetic panel plus one real shipped series."""

from __future__ import annotations

import numpy as np


def synthetic_panel(n_series: int = 50, length: int = 2000, period: int = 24,
                    seed: int = 0) -> np.ndarray:
    """``(n_series, length)`` float32: level + linear trend + two seasonal harmonics of
    ``period`` + AR(1) noise, each series with its own seeded parameters."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    level = rng.uniform(5, 50, (n_series, 1))
    slope = rng.normal(0, 0.01, (n_series, 1))
    amplitude = rng.uniform(1, 5, (n_series, 2))
    phase = rng.uniform(0, 2 * np.pi, (n_series, 2))
    angle = 2 * np.pi * t / period
    seasonal = (amplitude[:, :1] * np.sin(angle + phase[:, :1])
                + amplitude[:, 1:] * np.sin(2 * angle + phase[:, 1:]))
    phi = rng.uniform(0.5, 0.9, (n_series, 1))
    shocks = rng.normal(0, 1, (n_series, length)) * rng.uniform(0.3, 1.0, (n_series, 1))
    noise = np.empty_like(shocks)
    noise[:, 0] = shocks[:, 0]
    for i in range(1, length):  # AR(1): e_t = phi * e_{t-1} + shock_t
        noise[:, i] = phi[:, 0] * noise[:, i - 1] + shocks[:, i]
    return (level + slope * t + seasonal + noise).astype(np.float32)


def co2_weekly() -> tuple[np.ndarray, int]:
    """Mauna Loa weekly CO2 (statsmodels' shipped ``co2`` data set, 2,284 weeks) and its
    seasonal period (52). Its 59 missing weeks are filled by linear interpolation."""
    from statsmodels.datasets import co2

    frame = co2.load_pandas().data
    return frame["co2"].interpolate().to_numpy(np.float32), 52
