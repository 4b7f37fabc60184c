"""The shared wrapper of every console script: Hydra config, one-line errors."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from seqlstm import runtime
from seqlstm.configs import config_dir
from seqlstm.distributed.launch import rank_overrides
from seqlstm.errors import SeqlstmError

EXIT_BAD_INPUT = 2


def exit_bad_input(err: SeqlstmError) -> NoReturn:
    """End the process with one ``error:`` line on stderr and exit status 2."""
    print(f"error: {err}", file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)


def hydra_entry(config_name: str) -> Callable[[Callable[[DictConfig], Any]], Callable[[], Any]]:
    """Turn ``fn(cfg)`` into a Hydra console script over seqlstm's ``conf/<config_name>.yaml``.

    Bad input (any :class:`SeqlstmError`) ends the process with one ``error:`` line on stderr
    and exit status 2, instead of a traceback; in a multirun it is raised, so that the sweeper
    records the job as failed. A rank above 0 started by torchrun or srun writes no
    ``.hydra/`` folder (see :func:`seqlstm.distributed.rank_overrides`).
    """

    def decorator(fn: Callable[[DictConfig], Any]) -> Callable[[], Any]:
        @functools.wraps(fn)
        def task(cfg: DictConfig) -> Any:
            try:
                runtime.apply(cfg.get("runtime"))  # allocator and threads, in every rank
                return fn(cfg)
            except SeqlstmError as err:
                if HydraConfig.get().mode == RunMode.MULTIRUN:
                    print(f"error: {err}", file=sys.stderr)
                    raise
                exit_bad_input(err)

        hydra_main = hydra.main(version_base="1.3", config_path=str(config_dir()),
                                config_name=config_name)(task)

        @functools.wraps(fn)
        def entry() -> Any:
            sys.argv.extend(rank_overrides(os.environ, sys.argv[1:]))
            return hydra_main()

        return entry

    return decorator
