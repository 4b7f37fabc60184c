"""CPU threads per rank: torch collapses when a machine's threads outnumber its cores."""

from __future__ import annotations

import logging
import os

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info

from seqlstm.errors import ConfigError, check_int

log = logging.getLogger(__name__)


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class ThreadsPerRank(L.Callback):
    """Sets torch's intra-op threads in every rank so that ranks on a machine x threads <= cores.

    Args:
        threads: threads per rank; None means usable cores // ranks on this machine, and never
            more than the process already uses (an ``OMP_NUM_THREADS=1`` stays 1).
    """

    def __init__(self, threads: int | None = None) -> None:
        check_int("callbacks.threads_per_rank.threads", threads, 1, optional=True)
        self.threads = threads

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        ranks, cores = trainer.num_devices, usable_cores()  # processes on this machine
        fair = max(1, cores // ranks)
        if self.threads is not None and self.threads > fair:
            raise ConfigError("callbacks.threads_per_rank.threads",
                              f"at most {fair} ({ranks} ranks share {cores} cores here)",
                              self.threads)
        threads = self.threads or min(fair, torch.get_num_threads())
        torch.set_num_threads(threads)
        rank_zero_info(f"torch threads per rank: {threads} ({ranks} rank(s) on {cores} cores)")
