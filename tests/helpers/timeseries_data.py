"""Small tables of series for the time-series tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def two_series(length: int = 40) -> pd.DataFrame:
    """Series ``a`` (0, 1, 2, ...) and ``b`` (100, 110, 120, ...), rows interleaved by time,
    with a past covariate ``p`` and a known-future covariate ``f`` (the step's parity)."""
    steps = np.arange(length)
    a = pd.DataFrame({"id": "a", "t": steps, "y": steps.astype(float), "p": -steps,
                      "f": steps % 2})
    b = pd.DataFrame({"id": "b", "t": steps, "y": 100.0 + 10 * steps, "p": steps,
                      "f": steps % 2})
    return pd.concat([a, b]).sort_values(["t", "id"], kind="stable").reset_index(drop=True)


def sine(length: int = 240, period: int = 12, seed: int = 0) -> pd.DataFrame:
    """One noisy sine series of ``length`` steps in a column ``y`` (mean 5, amplitude 2)."""
    rng = np.random.default_rng(seed)
    steps = np.arange(length)
    values = 5 + 2 * np.sin(2 * np.pi * steps / period) + 0.05 * rng.standard_normal(length)
    return pd.DataFrame({"t": steps, "y": values})


def stores(length: int = 80, seed: int = 0) -> pd.DataFrame:
    """Four series ``s0``..``s3`` of ``length`` steps with static covariates: ``region``
    (north, south, north, east) and ``size`` (3, 1, 2, 5: the sine's amplitude)."""
    rng = np.random.default_rng(seed)
    steps = np.arange(length)
    return pd.concat([pd.DataFrame({
        "id": f"s{i}", "t": steps, "region": region, "size": size,
        "y": (size * np.sin(steps / 3 + i) + rng.normal(0, 0.1, length)).round(3)})
        for i, (region, size) in enumerate([("north", 3.0), ("south", 1.0), ("north", 2.0),
                                             ("east", 5.0)])], ignore_index=True)
