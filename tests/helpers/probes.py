"""Test helpers: classes runs load by ``_target_`` path (so they work in subprocesses too),
and running a console script in this process."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from seqlstm.nn import StepHead
from seqlstm.tasks import LanguageModel, SequenceTask


def run_main(script, *overrides: str, cwd) -> str:
    """Run a console script (from :mod:`seqlstm.cli.scripts`) in this process; returns its
    ``error:`` line (exit 2)."""
    with pytest.MonkeyPatch.context() as patch, pytest.raises(SystemExit) as exit_info:
        patch.chdir(cwd)
        patch.setattr(sys, "argv", [script.__name__, *overrides, "hydra.output_subdir=null",
                                    f"hydra.run.dir={cwd}", "hydra/job_logging=disabled"])
        stderr = io.StringIO()
        patch.setattr(sys, "stderr", stderr)
        script()
    assert exit_info.value.code == 2
    return stderr.getvalue().strip().splitlines()[-1]


class RecordStreams(L.Callback):
    """Writes, per rank, the split span ``[start, stop)`` of every row of every training batch
    to ``<folder>/rankN.json``; ``folder`` must lie outside the run's output folder."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)
        self.rows: list[list[list[int]]] = []

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule,
                             batch: Any, batch_idx: int) -> None:
        steps = batch["inputs"].size(1)
        self.rows.append([[int(o), int(o) + steps] for o in batch["offset"]])

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        record = {"rank": trainer.global_rank, "world_size": trainer.world_size,
                  "pid": os.getpid(), "batches": self.rows}
        (self.folder / f"rank{trainer.global_rank}.json").write_text(json.dumps(record))


class StepTagger(SequenceTask):
    """A minimal task that is not a language model (one real value per step)."""

    def build_head(self) -> nn.Module:
        return StepHead(self.encoder.output_size, self.spec.output_size)

    def loss(self, outputs: torch.Tensor, batch: Any) -> torch.Tensor:
        return nn.functional.mse_loss(outputs, batch["targets"])


class FirstBatchFigure(LanguageModel):
    """A task whose figure records the batch it was given (for the figure hook test)."""

    seen: list = []

    def validation_figures(self, batch: Any) -> dict[str, Figure]:
        FirstBatchFigure.seen.append((tuple(batch["inputs"].shape), self.training))
        figure = Figure()
        figure.add_subplot().plot([0, 1])
        return {"first_batch": figure}
