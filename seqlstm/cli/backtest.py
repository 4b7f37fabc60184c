"""``seqlstm-backtest``: rolling-origin backtest of a forecaster checkpoint over its test period."""

from __future__ import annotations

import logging
from typing import Any

from omegaconf import DictConfig

from seqlstm.cli.entry import hydra_entry
from seqlstm.cli.run import build_datamodule
from seqlstm.errors import CheckpointError
from seqlstm.tasks import SequenceTask, load_task
from seqlstm.validation import validate_eval

log = logging.getLogger(__name__)


def backtest(cfg: DictConfig) -> tuple[Any, list[Any]]:
    """Backtest ``cfg.ckpt_path`` over ``cfg.folds`` origins (see :mod:`seqlstm.backtesting`),
    with the data rebuilt from the checkpoint; writes ``backtest.csv`` and the rest into
    ``cfg.output_dir``."""
    from seqlstm.backtesting import run_backtest, write_backtest

    validate_eval(cfg)
    task = load_task(cfg.ckpt_path, SequenceTask)
    data = dict(task.hparams.get("data") or {})
    if not data:
        raise CheckpointError(f"{cfg.ckpt_path}: records no data config to backtest on")
    overrides: dict[str, Any] = {"fitted": task.spec.extra,
                                 **({"path": cfg.data_path} if cfg.data_path else {}),
                                 **({"batch_size": cfg.batch_size} if cfg.batch_size else {})}
    datamodule = build_datamodule({**data, **overrides})
    result = run_backtest(task, datamodule, cfg.folds, cfg.step, cfg.refit_epochs)
    return result, write_backtest(result, cfg.output_dir, datamodule)


@hydra_entry("backtest")
def main(cfg: DictConfig) -> None:
    result, written = backtest(cfg)
    print(result.folds.to_string(index=False))
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
