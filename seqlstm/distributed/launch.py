"""Hydra overrides for ranks that an outside launcher (torchrun, SLURM's srun) started.

Each such rank runs the whole command, Hydra included. Given the same ``hydra.run.dir`` they
share one run folder; these overrides keep ranks above 0 from writing ``.hydra/`` there and
give each its own log file. (Ranks that Lightning relaunches get the same from Lightning.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def rank_overrides(environ: Mapping[str, str], argv: Sequence[str]) -> list[str]:
    """Overrides to append to ``argv`` for this process's global rank (none for rank 0)."""
    rank = environ.get("RANK")
    if rank is None and int(environ.get("SLURM_NTASKS", "1")) > 1:
        rank = environ.get("SLURM_PROCID")
    if rank in (None, "0") or any(arg.startswith("hydra.output_subdir=") for arg in argv):
        return []
    return ["hydra.output_subdir=null", f"hydra.job.name=rank_{rank}"]
