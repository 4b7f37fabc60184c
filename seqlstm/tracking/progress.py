"""The Rich progress bar, showing throughput as a whole number."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar


class ThroughputProgressBar(RichProgressBar):
    """Lightning's Rich progress bar; ``*_per_s`` metrics (see :class:`Throughput`) are shown
    rounded, as ``tokens/s 12345``, and the version number Lightning adds is left out."""

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        for key in [k for k in metrics if k.endswith("_per_s")]:
            value = metrics.pop(key)
            unit = key.rsplit("/", 1)[-1].removesuffix("_per_s")
            metrics[f"{unit}/s"] = f"{float(value):,.0f}"
        return metrics
