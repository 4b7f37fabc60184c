"""Sending text tables and figures to whichever loggers take them, else to the run folder.

W&B gets tables and images, TensorBoard text and images; when no chosen logger takes a kind of
media (the CSV logger takes neither), it is written under the run folder instead: text to
``samples.txt``, figures to ``figures/<name>-epochNNN-stepNNNNNN.png``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from matplotlib.figure import Figure

SAMPLES_FILE = "samples.txt"
FIGURES_DIR = "figures"


def log_text_table(trainer: L.Trainer, key: str, columns: Sequence[str],
                   rows: Sequence[Sequence[Any]],
                   history: Sequence[Sequence[Any]] | None = None) -> Path | None:
    """Log new ``rows`` under ``key``; returns the file written when no logger took them.

    A W&B table cannot be appended to, so W&B gets ``history`` (every row so far) when given.
    """
    taken = False
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_text(key=key, columns=list(columns),
                            data=[list(r) for r in (history or rows)], step=trainer.global_step)
            taken = True
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_text(key, markdown_table(columns, rows), trainer.global_step)
            taken = True
    if taken:
        return None
    path = Path(trainer.default_root_dir) / SAMPLES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(f"== {key}, epoch {trainer.current_epoch}, step {trainer.global_step} ==\n")
        for row in rows:
            fields = zip(columns, row, strict=True)
            out.write("\n".join(f"{name}: {value}" for name, value in fields) + "\n\n")
    return path


def log_figure(trainer: L.Trainer, key: str, figure: Figure) -> Path | None:
    """Log ``figure`` under ``key``; returns the PNG written when no logger took it."""
    taken = False
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key=key, images=[png_image(figure)], step=trainer.global_step)
            taken = True
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_figure(key, figure, trainer.global_step, close=False)
            taken = True
    if taken:
        return None
    name = (f"{key.replace('/', '-')}-epoch{trainer.current_epoch:03d}"
            f"-step{trainer.global_step:06d}.png")
    path = Path(trainer.default_root_dir) / FIGURES_DIR / name
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    return path


def png_image(figure: Figure) -> Any:
    """``figure`` as a PIL image (what every W&B version accepts)."""
    from PIL import Image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    buffer.seek(0)
    return Image.open(buffer)


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (TensorBoard renders text summaries as Markdown)."""
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", "<br>")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
