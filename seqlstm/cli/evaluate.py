"""``seqlstm-eval``: evaluate a checkpoint on a split of its own data (or of other files)."""

from __future__ import annotations

from omegaconf import DictConfig

from seqlstm.cli.builders import inference_trainer, rebuild_from_checkpoint
from seqlstm.errors import ConfigError
from seqlstm.validation import validate_eval

SPLITS = ("val", "test")


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Metrics of ``cfg.ckpt_path`` on ``cfg.split``, with the data rebuilt from the checkpoint
    (the vocabulary and other fitted state come from its spec, not from the files)."""
    if cfg.split not in SPLITS:
        raise ConfigError("split", f"one of {list(SPLITS)}", cfg.split)
    validate_eval(cfg)
    task, datamodule = rebuild_from_checkpoint(cfg.ckpt_path, "evaluate", path=cfg.data_path,
                                               batch_size=cfg.batch_size)
    trainer = inference_trainer(cfg.trainer)
    runner = trainer.validate if cfg.split == "val" else trainer.test
    return {name: float(value) for name, value in runner(task, datamodule=datamodule)[0].items()}


def command(cfg: DictConfig) -> None:
    """Print each metric, one per line."""
    for name, value in sorted(evaluate(cfg).items()):
        print(f"{name}\t{value:.6f}")


if __name__ == "__main__":
    from seqlstm.cli.scripts import evaluate

    evaluate()
