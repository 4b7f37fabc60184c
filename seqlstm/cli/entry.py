"""The shared wrapper of every console script: Hydra config, one-line errors."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import hydra
from omegaconf import DictConfig

from seqlstm.configs import config_dir
from seqlstm.errors import SeqlstmError

EXIT_BAD_INPUT = 2


def hydra_entry(config_name: str) -> Callable[[Callable[[DictConfig], Any]], Callable[[], Any]]:
    """Turn ``fn(cfg)`` into a Hydra console script over seqlstm's ``conf/<config_name>.yaml``.

    Bad input (any :class:`SeqlstmError`) ends the process with one ``error:`` line on stderr
    and exit status 2, instead of a traceback.
    """

    def decorator(fn: Callable[[DictConfig], Any]) -> Callable[[], Any]:
        @functools.wraps(fn)
        def task(cfg: DictConfig) -> Any:
            try:
                return fn(cfg)
            except SeqlstmError as err:
                print(f"error: {err}", file=sys.stderr)
                sys.exit(EXIT_BAD_INPUT)

        return hydra.main(version_base="1.3", config_path=str(config_dir()),
                          config_name=config_name)(task)

    return decorator
