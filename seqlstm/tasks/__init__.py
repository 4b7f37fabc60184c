"""LightningModules: one base class, one subclass per kind of target."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from seqlstm.errors import ConfigError
from seqlstm.spec import DataSpec
from seqlstm.targets import resolve_class
from seqlstm.tasks.base import SequenceTask
from seqlstm.tasks.checkpoint import load_task, read_checkpoint
from seqlstm.tasks.classifier import Classifier, LabelTask, Tagger
from seqlstm.tasks.ctc import CTCRecognizer
from seqlstm.tasks.forecaster import Forecaster
from seqlstm.tasks.language_model import LanguageModel

#: The task class for each spec ``target_kind``; other tasks register here.
TASKS: dict[str, type[SequenceTask]] = {
    "next_token": LanguageModel,
    "real": Forecaster,
    "class": Classifier,
    "step_class": Tagger,
    "label_sequence": CTCRecognizer,
}


def task_class(target: str, spec: DataSpec) -> type[SequenceTask]:
    """The class ``model._target_`` names; the base :class:`SequenceTask` means "the task
    registered for this data's target kind"."""
    cls = resolve_class(target, SequenceTask, "model._target_")
    if cls is not SequenceTask:
        return cls
    if spec.target_kind not in TASKS:
        raise ConfigError("model._target_", f"a task for target kind '{spec.target_kind}' "
                          f"(registered: {sorted(TASKS)})", target)
    return TASKS[spec.target_kind]


def build_task(model: Mapping[str, Any], spec: DataSpec,
               data: Mapping[str, Any] | None = None) -> SequenceTask:
    """Instantiate the ``model`` config (plain dict) for data described by ``spec``.

    ``model.task_options`` maps target kinds to the options of their task (for example
    ``next_token: {tie_weights: true}``); only the entry for ``spec.target_kind`` is passed.
    """
    kwargs = dict(model)
    cls = task_class(kwargs.pop("_target_", "seqlstm.tasks.SequenceTask"), spec)
    options = dict((kwargs.pop("task_options", None) or {}).get(spec.target_kind) or {})
    try:
        return cls(spec=spec.as_dict(), data=dict(data) if data else None, **kwargs, **options)
    except TypeError as err:
        unknown = re.search(r"unexpected keyword argument '(\w+)'", str(err))
        if unknown is None:
            raise
        raise ConfigError(f"model.{unknown.group(1)}", f"absent: {cls.__name__} takes no such "
                          "argument", kwargs.get(unknown.group(1), options.get(unknown.group(1))),
                          ) from None


__all__ = [
    "TASKS",
    "CTCRecognizer",
    "Classifier",
    "Forecaster",
    "LabelTask",
    "LanguageModel",
    "SequenceTask",
    "Tagger",
    "build_task",
    "load_task",
    "read_checkpoint",
    "task_class",
]
