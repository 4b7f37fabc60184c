"""Running one training job over several processes, GPUs and machines (Lightning DDP).

Names load lazily: the console scripts read :func:`rank_overrides` before Lightning is imported.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ThreadsPerRank": "seqlstm.distributed.threads",
    "check_launch": "seqlstm.distributed.checks",
    "check_trainer_config": "seqlstm.distributed.checks",
    "rank_overrides": "seqlstm.distributed.launch",
    "usable_cores": "seqlstm.distributed.threads",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'seqlstm.distributed' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
