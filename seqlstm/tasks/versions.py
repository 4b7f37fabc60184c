"""The format version every seqlstm checkpoint records, and migrations of older formats.

A checkpoint records :data:`FORMAT_KEY` = :data:`FORMAT_VERSION` (``SequenceTask``'s
``on_save_checkpoint`` stamps it). Reading one (:func:`upgrade`) migrates an older format step by
step with :data:`MIGRATIONS`, and refuses a version it does not know, newer ones included, with
one line naming the version found and those supported.

Versions:
    0: checkpoints written before the format was versioned (no :data:`FORMAT_KEY`); a direct
       forecaster's head was a bare ``nn.Linear`` (``head.weight``), now a ``DirectHead``
       (``head.proj.weight``); everything else holds the same keys as version 1.
    1: the first versioned format.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from seqlstm.errors import CheckpointError, is_int

FORMAT_KEY = "seqlstm_format"
FORMAT_VERSION = 1
Checkpoint = dict[str, Any]


def _from_0(checkpoint: Checkpoint) -> Checkpoint:
    """Rename a bare linear head's weights to the ``DirectHead`` projection's."""
    state = checkpoint.get("state_dict", {})
    if "head.weight" in state:  # no other head has a bare weight at this path
        for name in ("weight", "bias"):
            if f"head.{name}" in state:
                state[f"head.proj.{name}"] = state.pop(f"head.{name}")
    return checkpoint


#: ``MIGRATIONS[v]`` turns a version-``v`` checkpoint into a version ``v + 1`` one
MIGRATIONS: dict[int, Callable[[Checkpoint], Checkpoint]] = {0: _from_0}
SUPPORTED = (*sorted(MIGRATIONS), FORMAT_VERSION)


def stamp_format(checkpoint: Checkpoint) -> None:
    """Record this release's format version in ``checkpoint`` (a dict about to be saved)."""
    checkpoint[FORMAT_KEY] = FORMAT_VERSION


def upgrade(checkpoint: Checkpoint, path: Any) -> Checkpoint:
    """``checkpoint`` (read from ``path``) in the current format, migrated from an older one;
    a version that is not supported is refused by name."""
    version = checkpoint.get(FORMAT_KEY, 0)
    if not is_int(version) or version not in SUPPORTED:
        newer = is_int(version) and version > FORMAT_VERSION
        advice = "; it was written by a newer seqlstm: upgrade seqlstm to read it" if newer else ""
        raise CheckpointError(f"{path}: checkpoint format version {version!r} is not supported "
                              f"(this seqlstm reads versions "
                              f"{', '.join(map(str, SUPPORTED))}){advice}")
    while version < FORMAT_VERSION:
        checkpoint = MIGRATIONS[version](checkpoint)
        version += 1
        checkpoint[FORMAT_KEY] = version
    return checkpoint
