"""Loading a task from a checkpoint alone, safely (``weights_only=True``), in the current
checkpoint format (:mod:`seqlstm.tasks.versions` migrates older ones, refuses unknown ones)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, TypeVar

import torch

from seqlstm.errors import CheckpointError, ConfigError
from seqlstm.targets import resolve_class
from seqlstm.tasks.base import CHECKPOINT_TASK_KEY, SequenceTask
from seqlstm.tasks.versions import upgrade

T = TypeVar("T", bound=SequenceTask)


def read_checkpoint(path: str | Path, require_task: bool = True) -> dict[str, Any]:
    """The checkpoint dict at ``path``, read with ``weights_only=True``: a file that needs
    arbitrary unpickling is refused before any of its code runs. ``require_task=False`` also
    takes Lightning's own files that are not whole checkpoints (``ddp_spawn`` hands the trained
    weights back to the main process as a bare state dict)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"ckpt_path: no such checkpoint file: {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0]
        raise CheckpointError(f"{path}: refused to load: the file holds objects that are not "
                              f"plain data ({first})") from None
    except Exception as err:  # torch.load fails in many ways on a file that is not one
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(err).__name__}: "
                              f"{err})") from None
    if not isinstance(checkpoint, dict) or (require_task and CHECKPOINT_TASK_KEY not in checkpoint):
        raise CheckpointError(f"{path}: not a seqlstm checkpoint (no '{CHECKPOINT_TASK_KEY}')")
    return upgrade(checkpoint, path) if CHECKPOINT_TASK_KEY in checkpoint else checkpoint


def load_task(path: str | Path, expected: type[T] = SequenceTask) -> T:
    """Rebuild the task saved at ``path``; it must be an ``expected`` (e.g. a LanguageModel)."""
    checkpoint = read_checkpoint(path)
    try:
        cls = resolve_class(checkpoint[CHECKPOINT_TASK_KEY], SequenceTask, CHECKPOINT_TASK_KEY)
    except ConfigError as err:
        raise CheckpointError(f"{path}: {err}") from None
    if not issubclass(cls, expected):
        raise CheckpointError(f"{path}: holds a {cls.__name__}, but this command needs a "
                              f"{expected.__name__}")
    task = cls(**checkpoint["hyper_parameters"])
    task.load_state_dict(checkpoint["state_dict"])
    return task.eval()
