"""Running one training job over several processes, GPUs and machines (Lightning DDP).

Names load lazily: the console scripts read :func:`rank_overrides` before Lightning is imported.
"""

from __future__ import annotations

from seqlstm.lazy import lazy_exports

_EXPORTS = {
    "ThreadsPerRank": "seqlstm.distributed.threads",
    "check_launch": "seqlstm.distributed.checks",
    "check_trainer_config": "seqlstm.distributed.checks",
    "rank_overrides": "seqlstm.distributed.launch",
    "usable_cores": "seqlstm.distributed.threads",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
