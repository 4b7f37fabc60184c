"""``seqlstm-eval``: evaluate a checkpoint on a split of its own data (or of other files)."""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
from omegaconf import DictConfig

from seqlstm.cli.entry import hydra_entry
from seqlstm.cli.run import build_datamodule
from seqlstm.errors import CheckpointError, ConfigError
from seqlstm.tasks import SequenceTask, load_task

log = logging.getLogger(__name__)
SPLITS = ("val", "test")


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Metrics of ``cfg.ckpt_path`` on ``cfg.split``, with the data rebuilt from the checkpoint
    (the vocabulary and other fitted state come from its spec, not from the files)."""
    if cfg.split not in SPLITS:
        raise ConfigError("split", f"one of {list(SPLITS)}", cfg.split)
    task = load_task(cfg.ckpt_path, SequenceTask)
    data = dict(task.hparams.get("data") or {})
    if not data:
        raise CheckpointError(f"{cfg.ckpt_path}: records no data config to evaluate on")
    overrides: dict[str, Any] = {"path": cfg.data_path} if cfg.data_path else {}
    if cfg.batch_size:
        overrides["batch_size"] = cfg.batch_size
    if task.spec.vocab is not None:
        overrides["vocab"] = task.spec.vocab
    datamodule = build_datamodule({**data, **overrides})
    trainer = L.Trainer(accelerator=cfg.trainer.accelerator, devices=cfg.trainer.devices,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False)
    runner = trainer.validate if cfg.split == "val" else trainer.test
    return {name: float(value) for name, value in runner(task, datamodule=datamodule)[0].items()}


@hydra_entry("eval")
def main(cfg: DictConfig) -> None:
    for name, value in sorted(evaluate(cfg).items()):
        print(f"{name}\t{value:.6f}")


if __name__ == "__main__":
    main()
