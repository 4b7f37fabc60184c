"""Small runs shared by test modules: overrides for a fast logged run, a quiet trainer."""

from __future__ import annotations

from pathlib import Path

import lightning as L

from tests.conftest import FAST


def tiny(text: Path) -> list[str]:
    """A small, fast run on ``text`` with the default callbacks (checkpoints, media...); the
    progress bar callback stays configured and is dropped because the trainer disables it."""
    return ["data=char", f"data.path={text}", "data.seq_len=16", "data.batch_size=8",
            "model.encoder.hidden_size=16", "callbacks.media.sample_length=20",
            "trainer.log_every_n_steps=1",
            *FAST]


def quiet_trainer(**kwargs) -> L.Trainer:
    """A CPU trainer with no logger, checkpoints, progress bar or summary."""
    return L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False, **kwargs)
