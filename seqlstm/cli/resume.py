"""Resolving ``ckpt_path`` for a resumed fit: a file, a run folder, ``last`` or ``auto``."""

from __future__ import annotations

import logging
from pathlib import Path

from seqlstm.errors import CheckpointError

log = logging.getLogger(__name__)
#: where a run keeps its checkpoints, relative to its output folder
CHECKPOINTS = Path("checkpoints")


def resolve_ckpt_path(value: str | None, runs_dir: str | Path) -> str | None:
    """The checkpoint file a fit resumes from.

    ``last``: ``checkpoints/last.ckpt`` of the newest run under ``runs_dir`` (an error when
    there is none); ``auto``: the same, or a fresh start when there is none (for job scripts
    that are simply restarted); a run folder: its ``checkpoints/last.ckpt``; a file: itself.
    """
    if value is None or str(value) == "":
        return None
    if str(value) in ("last", "auto"):
        found = sorted(Path(runs_dir).glob(f"*/{CHECKPOINTS}/last.ckpt"),
                       key=lambda p: p.stat().st_mtime_ns)
        if found:
            log.info("resuming from %s", found[-1])
            return str(found[-1])
        if value == "auto":
            log.info("ckpt_path=auto: no last.ckpt under %s; starting a fresh run", runs_dir)
            return None
        raise CheckpointError(f"ckpt_path=last: no run under {runs_dir} has "
                              f"{CHECKPOINTS}/last.ckpt; give a checkpoint file or run folder")
    path = Path(value)
    if path.is_dir():
        path = path / CHECKPOINTS / "last.ckpt"
    if not path.is_file():
        raise CheckpointError(f"ckpt_path: no such checkpoint file: {path}")
    return str(path)
