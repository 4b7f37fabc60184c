"""``seqlstm-backtest``: rolling-origin backtest of a forecaster checkpoint over its test period."""

from __future__ import annotations

import logging
from typing import Any

from omegaconf import DictConfig

from seqlstm.cli.builders import rebuild_from_checkpoint
from seqlstm.validation import validate_eval

log = logging.getLogger(__name__)


def backtest(cfg: DictConfig) -> tuple[Any, list[Any]]:
    """Backtest ``cfg.ckpt_path`` over ``cfg.folds`` origins (see :mod:`seqlstm.backtesting`),
    with the data rebuilt from the checkpoint; writes ``backtest.csv`` and the rest into
    ``cfg.output_dir``."""
    from seqlstm.backtesting import run_backtest, write_backtest

    validate_eval(cfg)
    task, datamodule = rebuild_from_checkpoint(cfg.ckpt_path, "backtest", path=cfg.data_path,
                                               batch_size=cfg.batch_size)
    result = run_backtest(task, datamodule, cfg.folds, cfg.step, cfg.refit_epochs)
    return result, write_backtest(result, cfg.output_dir, datamodule)


def command(cfg: DictConfig) -> None:
    """Print the per-fold metrics and the files written."""
    result, written = backtest(cfg)
    print(result.folds.to_string(index=False))
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    from seqlstm.cli.scripts import backtest as script

    script()
