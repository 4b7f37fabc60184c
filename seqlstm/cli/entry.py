"""The shared wrapper of every console script: Hydra config, one-line errors, light start-up.

A console script imports Hydra, the config helpers and nothing heavier until Hydra has
composed its config: ``--help``, ``--cfg job`` and Hydra's own errors answer before torch or
Lightning is imported. The command itself (``module:function``) is imported when it runs.
"""

from __future__ import annotations

import functools
import importlib
import os
import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import InterpolationResolutionError, MissingMandatoryValue

from seqlstm import runtime
from seqlstm.cli.hydra_errors import mark_from_task, one_line_errors
from seqlstm.configs import config_dir
from seqlstm.distributed.launch import rank_overrides
from seqlstm.errors import ConfigError, SeqlstmError

EXIT_BAD_INPUT = 2
Command = Callable[[DictConfig], Any]
#: Hydra's flags whose value is the next argument (``--info`` takes one of INFO_TOPICS or none)
VALUE_FLAGS = {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn",
               "--config-dir", "-cd", "--experimental-rerun"}
INFO_TOPICS = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}


def exit_bad_input(err: SeqlstmError) -> NoReturn:
    """End the process with one ``error:`` line on stderr and exit status 2."""
    print(f"error: {err}", file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)


def console_script(config_name: str, command: str | Command,
                   positional: str | None = None) -> Callable[[], Any]:
    """A Hydra console script over seqlstm's ``conf/<config_name>.yaml`` that runs
    ``command(cfg)`` (a function, or ``"module:function"`` imported once the config is
    composed).

    Bad input (any :class:`SeqlstmError`) ends the process with one ``error:`` line on stderr
    and exit status 2, instead of a traceback; in a multirun it is raised, so that the sweeper
    records the job as failed. Hydra's own errors (an unknown key or option, a bad override)
    end the process the same way (:mod:`seqlstm.cli.hydra_errors`), as does a config key left
    without a value (``???``) or an interpolation that cannot be resolved. A rank above 0
    started by torchrun or srun writes no ``.hydra/`` folder (see
    :func:`seqlstm.distributed.launch.rank_overrides`). With ``positional``, the arguments
    that are neither overrides (no ``=``) nor Hydra flags become that list key
    (``seqlstm-transcribe a.wav b.wav`` is ``files=['a.wav','b.wav']``).
    """
    script = f"seqlstm-{config_name}"

    def task(cfg: DictConfig) -> Any:
        try:
            runtime.apply(cfg.get("runtime"))  # allocator and threads, in every rank
            try:
                return resolve_command(command)(cfg)
            except (MissingMandatoryValue, InterpolationResolutionError) as err:
                raise config_value_error(err, script) from None
        except SeqlstmError as err:
            if HydraConfig.get().mode == RunMode.MULTIRUN:
                print(f"error: {err}", file=sys.stderr)
                mark_from_task(err)
                raise
            exit_bad_input(err)
        except BaseException as err:
            mark_from_task(err)
            raise

    # Hydra names the job (and its log file, e.g. train.log) after the task's module
    task.__module__ = command.partition(":")[0] if isinstance(command, str) else \
        command.__module__
    hydra_main = hydra.main(version_base="1.3", config_path=str(config_dir()),
                            config_name=config_name)(task)

    @functools.wraps(task)
    def entry() -> Any:
        if positional:
            sys.argv[1:] = positional_override(positional, sys.argv[1:])
        sys.argv.extend(rank_overrides(os.environ, sys.argv[1:]))
        with one_line_errors(script, sys.argv[1:]):
            return hydra_main()

    return entry


def config_value_error(err: MissingMandatoryValue | InterpolationResolutionError,
                       script: str) -> ConfigError:
    """The :class:`ConfigError` for a key without a value or an unresolvable interpolation."""
    key = err.full_key or str(err.key or "?")
    if isinstance(err, MissingMandatoryValue):
        return ConfigError(key, f"given a value for {script} (add {key}=...)", "???")
    detail = (err.msg or str(err)).splitlines()[0]
    try:
        raw = err.parent_node._get_node(err.key)._value()
    except Exception:  # the node itself is gone: name the key alone
        raw = err.value
    return ConfigError(key, f"an interpolation that resolves ({detail})", raw)


def resolve_command(command: str | Command) -> Command:
    """``command`` itself, or the function a ``"module:function"`` string names."""
    if callable(command):
        return command
    module, _, name = command.partition(":")
    return getattr(importlib.import_module(module), name)


def positional_override(key: str, argv: list[str]) -> list[str]:
    """``argv`` with its plain arguments (no ``=``, not a Hydra flag or a flag's value) taken
    out and appended as one ``key=[...]`` override, each quoted so that Hydra's grammar gives
    back the exact string (commas, brackets, quotes, ``${``)."""
    kept, plain = [], []
    index = 0
    while index < len(argv):
        arg = argv[index]
        index += 1
        if not arg.startswith("-") and "=" not in arg:
            plain.append(arg)
            continue
        kept.append(arg)
        takes_value = arg in VALUE_FLAGS or (arg in ("--info", "-i") and index < len(argv)
                                             and argv[index] in INFO_TOPICS)
        if takes_value and index < len(argv):
            kept.append(argv[index])
            index += 1
    if not plain:
        return kept
    # next to the other overrides: argparse takes Hydra's overrides as one run of arguments
    at = next((i for i, arg in enumerate(kept) if "=" in arg and not arg.startswith("-")),
              len(kept))
    return [*kept[:at], f"{key}=[{','.join(quoted(a) for a in plain)}]", *kept[at:]]


def quoted(value: str) -> str:
    """``value`` as a single-quoted string of Hydra's override grammar."""
    value = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", value)
    value = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, value)
    return "'" + value.replace("${", "\\${") + "'"
