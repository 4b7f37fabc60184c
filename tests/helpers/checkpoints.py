"""Tiny trained checkpoints for inference, generation and export tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch

from seqlstm.cli.builders import data_record
from seqlstm.data import CharDataModule, DataSpec
from seqlstm.targets import qualified_name
from seqlstm.tasks import build_task
from seqlstm.tasks.base import CHECKPOINT_TASK_KEY
from tests.helpers.probes import StepTagger

TEXT = "".join(f"the {a} saw {i} {b} by the river.\n" for i, (a, b) in enumerate(
    [("cat", "birds"), ("dog", "boats"), ("fox", "stars"), ("owl", "trees")] * 40))


def tiny_lm_checkpoint(folder: Path, steps: int = 5, **encoder: Any) -> Path:
    """Train a small character LSTM (or ``encoder`` overrides) for ``steps`` steps; save it."""
    folder.mkdir(parents=True, exist_ok=True)
    text = folder / "text.txt"
    text.write_text(TEXT, encoding="utf-8")
    torch.manual_seed(0)
    data = CharDataModule(str(text), seq_len=16, batch_size=8)
    return train_and_save(data, {"encoder": {"hidden_size": 16, **encoder}, "embedding_dim": 8},
                          folder / "lm.ckpt", steps)


def tiny_word_lm_checkpoint(folder: Path, tokenizer: str = "word", steps: int = 5) -> Path:
    """A small LSTM language model over words or subwords (``tokenizer``) of PTB-style files."""
    from seqlstm.data import WordLMDataModule
    from tests.helpers.text_data import write_word_lm

    torch.manual_seed(0)
    data = WordLMDataModule(str(write_word_lm(folder / "ptb")), tokenizer=tokenizer,
                            vocab_size=300, seq_len=8, batch_size=4)
    return train_and_save(data, {"encoder": {"hidden_size": 16}, "embedding_dim": 8},
                          folder / f"{tokenizer}_lm.ckpt", steps)


def tiny_text_classifier_checkpoint(folder: Path, steps: int = 5, **data_options: Any) -> Path:
    """A small LSTM classifier of the test reviews (``data_options``: the data module's)."""
    from seqlstm.data import TextClassificationDataModule
    from tests.helpers.text_data import write_reviews

    torch.manual_seed(0)
    data = TextClassificationDataModule(str(write_reviews(folder / "reviews.csv")),
                                        batch_size=8, **data_options)
    return train_and_save(data, {"encoder": {"hidden_size": 16}, "embedding_dim": 8},
                          folder / "classifier.ckpt", steps)


def train_and_save(data: L.LightningDataModule, model: dict[str, Any], path: Path,
                   steps: int) -> Path:
    """Fit ``model`` (a plain model config) on ``data`` for ``steps`` steps; save to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data.setup("fit")
    task = build_task(model, data.spec, data_record(data))
    trainer = L.Trainer(accelerator="cpu", max_steps=steps, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0)
    trainer.fit(task, datamodule=data)
    trainer.save_checkpoint(path)
    return path


def tagger(input_size: int = 3, output_size: int = 2, **encoder: Any) -> StepTagger:
    """An untrained real-valued task (one output vector per step)."""
    torch.manual_seed(0)
    spec = DataSpec(input_kind="real", target_kind="real", input_size=input_size,
                    output_size=output_size)
    return StepTagger(spec=spec.as_dict(), encoder={"hidden_size": 8, **encoder}).eval()


def tagger_checkpoint(folder: Path) -> Path:
    """A checkpoint of a task that is not a language model, saved the way Lightning does."""
    task = tagger()
    path = folder / "tagger.ckpt"
    torch.save({CHECKPOINT_TASK_KEY: qualified_name(type(task)),
                "hyper_parameters": dict(task.hparams), "state_dict": task.state_dict()}, path)
    return path
