"""``seqlstm-train``: fit a model, test the best checkpoint, return the optimised metric."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.callbacks import ProgressBar
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig

from seqlstm.cli.builders import (
    build_callbacks,
    build_datamodule,
    build_loggers,
    build_trainer,
    data_record,
)
from seqlstm.cli.folders import check_run_folder
from seqlstm.cli.resume import resolve_ckpt_path
from seqlstm.configs import plain
from seqlstm.errors import ConfigError
from seqlstm.tasks import LanguageModel, SequenceTask, build_task, read_checkpoint
from seqlstm.tracking.media import FIGURES_DIR, SAMPLES_FILE
from seqlstm.tracking.terminal import (
    quiet_libraries,
    run_config,
    show_banner,
    show_summary,
    summary_line,
)
from seqlstm.tracking.wandb import finish_runs
from seqlstm.validation import validate_train

log = logging.getLogger(__name__)
#: written into the run folder after fitting (steps, epochs, why it stopped, metrics)
TRAINING_RECORD = "training.json"


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit ``cfg.model`` on ``cfg.data``; test on the best checkpoint when ``cfg.test``.

    Prints a start banner and an end summary (one line when ``cfg.quiet``). Returns every
    logged metric as a float; validation values are read before testing.
    """
    validate_train(cfg)
    ckpt_path = resolve_ckpt_path(cfg.get("ckpt_path"),
                                  Path(cfg.paths.log_dir) / cfg.task_name / "runs")
    if ckpt_path:
        read_checkpoint(ckpt_path)  # refuse a foreign or unsafe file before any heavy work
    check_run_folder(cfg.paths.output_dir, resuming=bool(ckpt_path))
    quiet = bool(cfg.get("quiet"))
    if quiet:
        quiet_libraries()
    callbacks, loggers = build_callbacks(cfg.get("callbacks")), build_loggers(cfg.get("logger"))
    if quiet or not cfg.trainer.get("enable_progress_bar", True):
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True, verbose=not quiet)
    datamodule = build_datamodule(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    model = build_task(plain(cfg.model), datamodule.spec, data_record(datamodule))
    options = {"enable_progress_bar": False, "enable_model_summary": False} if quiet else {}
    trainer = build_trainer(cfg, callbacks, loggers, **options)
    for logger in loggers:
        logger.log_hyperparams(run_config(cfg))
    if not quiet and trainer.is_global_zero:
        show_banner(cfg, model, trainer)
    check_optimized_metric(cfg)
    failed = True
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
        metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
        write_training_record(trainer, metrics)
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        if cfg.get("test"):
            # verbose=False: the summary below shows the test metrics with the others
            results = trainer.test(model, datamodule=datamodule, ckpt_path=best or None,
                                   verbose=False)
            metrics.update({name: float(value) for name, value in results[0].items()})
        report(cfg, model, trainer, metrics, best)
        failed = False
    finally:
        finish_runs(loggers, failed)
    return trainer.strategy.broadcast(metrics)  # every rank returns rank 0's values


@rank_zero_only
def report(cfg: DictConfig, model: SequenceTask, trainer: L.Trainer, metrics: dict[str, float],
           best: str) -> None:
    """Print the end summary: best checkpoint, metrics by stage, where the logs are and (for
    language models) a sample; in quiet mode only the optimised metric and the checkpoint."""
    if cfg.get("quiet"):
        names = [cfg.get("optimized_metric") or "val/loss", "test/loss"]
        print(summary_line(metrics, best, names))
        return
    sample = None
    if isinstance(model, LanguageModel) and cfg.sample.length > 0:
        prompt = cfg.sample.prompt or model.default_prompt()
        sample = prompt + model.generate_text(prompt, cfg.sample.length, seed=cfg.get("seed"),
                                              temperature=cfg.sample.temperature)[0]
    root = Path(trainer.default_root_dir)
    files = [str(path) for path in (root / SAMPLES_FILE, root / FIGURES_DIR) if path.exists()]
    show_summary(metrics, best, trainer.loggers, files, sample)


def check_optimized_metric(cfg: DictConfig) -> None:
    """Refuse, before training, a sweep that optimises a validation metric with validation
    off: every trial would train and return nothing."""
    name = str(cfg.get("optimized_metric") or "")
    if not name.startswith("val/") or cfg.trainer.get("limit_val_batches", 1.0) != 0:
        return
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        raise ConfigError("optimized_metric", "a metric the run logs: validation is off "
                          "(trainer.limit_val_batches=0); optimise a train/ metric or turn "
                          "validation on", name)


def write_training_record(trainer: L.Trainer, metrics: dict[str, float]) -> None:
    """``training.json`` in the run folder: optimiser steps and epochs trained, whether
    validation ran, why training stopped, and the metrics at the end of fitting."""
    if not trainer.is_global_zero:
        return
    early = trainer.early_stopping_callback
    batches = trainer.num_training_batches
    record = {"optimizer_steps": int(trainer.global_step), "epochs": int(trainer.current_epoch),
              "batches_per_epoch": batches if isinstance(batches, int) else None,
              "validated": any(name.startswith("val/") for name in metrics),
              "stopped_early": bool(early is not None and early.stopped_epoch),
              "interrupted": bool(trainer.interrupted), "metrics": metrics}
    root = Path(trainer.default_root_dir)
    root.mkdir(parents=True, exist_ok=True)
    (root / TRAINING_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    log.info("trained %d optimiser steps (%d epochs)", record["optimizer_steps"],
             record["epochs"])


def command(cfg: DictConfig) -> Any:
    metrics = train(cfg)
    name = cfg.get("optimized_metric")
    if name and name not in metrics and name.startswith("val/") and \
            not any(key.startswith("val/") for key in metrics):
        print(f"not measured: optimized_metric {name} (validation never ran: "
              f"trainer.limit_val_batches=0, or trainer.max_steps ends training before the "
              "first validation check)")
        return None
    if name and name not in metrics:
        raise ConfigError("optimized_metric", f"one of the logged metrics {sorted(metrics)} (a "
                          "run resumed after reaching trainer.max_epochs trains and validates "
                          "nothing: raise trainer.max_epochs)", name)
    if not name:
        return None
    log.info("optimized metric %s = %r", name, metrics[name])  # on every rank
    return metrics[name]


if __name__ == "__main__":
    from seqlstm.cli.scripts import train

    train()
