"""Hydra's own errors (an unknown key or group option, a bad override) as one seqlstm line.

Hydra raises these while it composes the config, before the task function runs, and reports
them through ``hydra._internal.utils.run_and_report`` (a trace, then exit status 1).
:func:`one_line_errors` wraps that reporter for the time of one console script call: an error
raised before the task (or by Hydra's sweeper between tasks) becomes ``error: <one line>`` with
exit status 2 and the nearest valid keys or options; what the task itself raises is left to
Hydra as before. ``HYDRA_FULL_ERROR=1`` keeps Hydra's full trace. Imports only Hydra, omegaconf
and the standard library, so that the errors answer before torch is loaded.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import hydra._internal.utils as hydra_utils
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from seqlstm.configs import config_dir
from seqlstm.errors import SeqlstmError

EXIT_BAD_INPUT = 2
#: set on an exception that left the task function: Hydra reports it as before
FROM_TASK = "_seqlstm_from_task"
GRAMMAR = "https://hydra.cc/docs/advanced/override_grammar/basic/"
MAX_LISTED = 12


def mark_from_task(err: BaseException) -> None:
    """Say that ``err`` came out of the task function (not from composing its config)."""
    with contextlib.suppress(AttributeError):
        setattr(err, FROM_TASK, True)


@contextlib.contextmanager
def one_line_errors(script: str, argv: Sequence[str]) -> Iterator[None]:
    """For the duration of the block, Hydra's errors outside the task end the process with one
    ``error:`` line naming the key, option or override (and the nearest valid ones) and exit
    status 2. ``script`` names the command in messages; ``argv`` is its command line."""
    report = hydra_utils.run_and_report

    def reporting(func: Callable[[], Any]) -> Any:
        return report(lambda: _translated(func, script, argv))

    hydra_utils.run_and_report = reporting
    try:
        yield
    finally:
        hydra_utils.run_and_report = report


def _translated(func: Callable[[], Any], script: str, argv: Sequence[str]) -> Any:
    try:
        return func()
    except (HydraException, OmegaConfBaseException, ValueError, OSError) as err:
        if getattr(err, FROM_TASK, False) or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {error_line(err, script, argv)}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def error_line(err: BaseException, script: str, argv: Sequence[str]) -> str:
    """One line for an error Hydra raised while composing ``script``'s config from ``argv``."""
    if isinstance(err, SeqlstmError):
        return str(err)
    if isinstance(err, MissingConfigException):
        return _missing_config(err, script)
    if isinstance(err, OverrideParseException):
        return _bad_override(err, argv)
    if isinstance(err, OSError):  # Hydra writing .hydra/ into the run folder
        return (f"cannot write {err.filename or 'the run folder'} ({err.strerror or err}); "
                "point hydra.run.dir at a writable folder with free space")
    cause = err.__cause__
    key = re.match(r"Could not override '([^']+)'", str(err))
    if key and isinstance(cause, OmegaConfBaseException) and cause.parent_node is not None:
        return unknown_key(script, key.group(1), cause)
    return _flatten(str(err)) + _group_hint(str(err), argv)


def _group_hint(message: str, argv: Sequence[str]) -> str:
    """Advice for a group given a value that is not an option name, or appended twice."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    groups = {path.name for path in config_dir().iterdir() if path.is_dir()}
    for arg in argv:
        try:
            override = OverridesParser.create().parse_overrides([arg])[0]
        except HydraException:
            continue
        group = override.key_or_group
        if group not in groups:
            continue
        if "must be a string" in message and not isinstance(override.value(), (str, list)):
            return f" (in '{arg}': {group} takes an option name, e.g. {group}=NAME)"
        if ("more than once" in message or "Multiple values" in message) \
                and arg.startswith("+"):
            return f" (in '{arg}': choose another {group} with {arg.lstrip('+')}, without +)"
    return ""


def unknown_key(script: str, key: str, cause: OmegaConfBaseException) -> str:
    """``script`` has no config key ``key``: the nearest keys beside it, or those it may take."""
    missing = cause.full_key or key
    prefix = missing.rpartition(".")[0]
    parent = cause.parent_node
    keys = [f"{prefix}.{name}" if prefix else name for name in _keys(parent)
            if not name.startswith("_")]
    line = f"{script} has no config key '{key}'"
    if not keys and prefix:
        return f"{line} ('{prefix}' holds a value, not keys)"
    near = _nearest((key, missing), keys, cutoff=0.6)
    if not near:  # a key given at the wrong depth: `hidden_size=8` for model.encoder.hidden_size
        leaves = _leaves(parent, prefix)
        last = key.rpartition(".")[2]
        near = [leaf for leaf in leaves if leaf.rpartition(".")[2] == last][:3] or \
            _nearest((key,), leaves, cutoff=0.75)
    if near:
        return f"{line}; did you mean {_either(near)}?"
    where = f"under '{prefix}'" if prefix else "at the top level"
    return (f"{line} (keys {where}: {_listed(keys)}; add a new key with +{key}=...)")


def _missing_config(err: MissingConfigException, script: str) -> str:
    missing = err.missing_cfg_file or ""
    if err.options is None or "/" not in missing:
        names = sorted(path.stem for path in config_dir().glob("*.yaml"))
        return f"no config named '{missing}' (seqlstm's configs: {', '.join(names)})"
    group, _, option = missing.rpartition("/")
    options = sorted(err.options)
    near = _nearest((option,), options, cutoff=0.5)
    guess = f"; did you mean {_either(near)}?" if near else ""
    return f"{script} has no {group} option '{option}'{guess} (options: {_listed(options)})"


def _bad_override(err: OverrideParseException, argv: Sequence[str]) -> str:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    bad = None
    for override in (arg for arg in argv if not arg.startswith("-")):
        try:
            parser.parse_overrides([override])
        except HydraException:
            bad = override
            break
    lines = [line.strip() for line in str(err).splitlines() if line.strip(" ^")]
    detail = next((line for line in lines if not line.startswith(("Error parsing", "See http"))
                   and (bad is None or bad not in line)), "a quote or bracket is not closed")
    what = f"override '{bad}'" if bad is not None else "an override"
    hint = "write key=value" if bad is not None and "=" not in bad else \
        "quote a value holding spaces, brackets, quotes or '=': key='a value'"
    return f"cannot parse {what}: {detail} ({hint}; grammar: {GRAMMAR})"


def _nearest(names: Sequence[str], candidates: Sequence[str], cutoff: float) -> list[str]:
    """Up to three ``candidates`` closest to any of ``names``: difflib ratio >= ``cutoff`` and
    within 0.1 of the best one."""
    def score(candidate: str) -> float:
        return max(difflib.SequenceMatcher(None, name, candidate).ratio() for name in names)

    scored = sorted(((score(c), c) for c in candidates), key=lambda pair: -pair[0])
    best = scored[0][0] if scored else 0.0
    return [candidate for value, candidate in scored if value >= max(cutoff, best - 0.1)][:3]


def _flatten(message: str) -> str:
    """Hydra's message as one line: no search path, links or trailing advice."""
    lines = []
    for line in message.splitlines():
        line = line.strip()
        if line.startswith(("Config search path", "See http", "Set the environment")):
            break
        if line:
            lines.append(line)
    return " ".join(lines) or message


def _keys(node: Any) -> list[str]:
    try:
        return [str(key) for key in node] if hasattr(node, "keys") else []
    except Exception:  # a structured config that cannot list its keys
        return []


def _leaves(node: Any, prefix: str) -> list[str]:
    """Every dotted key below ``node`` (not under ``hydra``), without resolving values."""
    found = []
    for key in _keys(node):
        full = f"{prefix}.{key}" if prefix else key
        if full == "hydra":
            continue
        try:
            child = node._get_node(key)
        except Exception:
            continue
        if isinstance(child, DictConfig) and not child._is_missing() and not child._is_none():
            found.extend(_leaves(child, full))
        else:
            found.append(full)
    return found


def _either(names: Sequence[str]) -> str:
    quoted = [f"'{name}'" for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    return shown + (f", ... ({len(names) - MAX_LISTED} more)" if len(names) > MAX_LISTED else "")
