"""``seqlstm-train``: fit a model, test the best checkpoint, return the optimised metric."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig

from seqlstm.cli.entry import hydra_entry
from seqlstm.cli.resume import resolve_ckpt_path
from seqlstm.cli.run import (
    build_callbacks,
    build_datamodule,
    build_loggers,
    build_trainer,
    data_record,
)
from seqlstm.configs import plain
from seqlstm.errors import ConfigError
from seqlstm.tasks import LanguageModel, SequenceTask, build_task, read_checkpoint
from seqlstm.validation import validate_train

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit ``cfg.model`` on ``cfg.data``; test on the best checkpoint when ``cfg.test``.

    Returns every logged metric as a float; validation values are read before testing.
    """
    validate_train(cfg)
    ckpt_path = resolve_ckpt_path(cfg.get("ckpt_path"),
                                  Path(cfg.paths.log_dir) / cfg.task_name / "runs")
    if ckpt_path:
        read_checkpoint(ckpt_path)  # refuse a foreign or unsafe file before any heavy work
    callbacks, loggers = build_callbacks(cfg.get("callbacks")), build_loggers(cfg.get("logger"))
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    datamodule = build_datamodule(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    model = build_task(plain(cfg.model), datamodule.spec, data_record(datamodule))
    trainer = build_trainer(cfg, callbacks, loggers)
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if cfg.get("test"):
        results = trainer.test(model, datamodule=datamodule, ckpt_path=best or None)
        metrics.update({name: float(value) for name, value in results[0].items()})
    report(cfg, model, metrics, best)
    return trainer.strategy.broadcast(metrics)  # every rank returns rank 0's values


@rank_zero_only
def report(cfg: DictConfig, model: SequenceTask, metrics: dict[str, float], best: str) -> None:
    """Print where the run's files are, its metrics and (for language models) a sample."""
    log.info("output folder: %s", cfg.paths.output_dir)
    log.info("best checkpoint: %s", best or "(none saved)")
    for name in sorted(metrics):
        log.info("%-16s %.4f", name, metrics[name])
    if isinstance(model, LanguageModel) and cfg.sample.length > 0:
        vocab = model.spec.vocab or []
        prompt = cfg.sample.prompt or ("\n" if "\n" in vocab else vocab[-1])
        text = model.generate_text(prompt, cfg.sample.length, seed=cfg.get("seed"),
                                   temperature=cfg.sample.temperature)[0]
        log.info("sample:\n%s%s", prompt, text)


@hydra_entry("train")
def main(cfg: DictConfig) -> Any:
    metrics = train(cfg)
    name = cfg.get("optimized_metric")
    if name and name not in metrics:
        raise ConfigError("optimized_metric", f"one of the logged metrics {sorted(metrics)}", name)
    if not name:
        return None
    log.info("optimized metric %s = %r", name, metrics[name])  # on every rank
    return metrics[name]


if __name__ == "__main__":
    main()
