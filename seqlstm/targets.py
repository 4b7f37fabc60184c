"""Resolving config ``_target_`` strings to classes, refusing anything outside an allowed base.

Checkpoints and configs name classes by dotted path; :func:`resolve_class` imports the path and
checks the result is a subclass of the expected base before anything is called, so a crafted
string cannot make seqlstm call an arbitrary function.
"""

from __future__ import annotations

import importlib
from typing import TypeVar

from seqlstm.errors import ConfigError

T = TypeVar("T")


def qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def resolve_class(path: str, base: type[T], key: str) -> type[T]:
    """The class at dotted ``path`` if it subclasses ``base``; ``key`` names the config key."""
    module_name, _, attr = str(path).rpartition(".")
    try:
        obj = getattr(importlib.import_module(module_name), attr) if module_name else None
    except (ImportError, AttributeError, ValueError):
        obj = None
    if not (isinstance(obj, type) and issubclass(obj, base)):
        raise ConfigError(key, f"an importable subclass of {qualified_name(base)}", path)
    return obj
