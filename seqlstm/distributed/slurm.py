"""Submitting to Slurm: a launcher request checked against the cluster before any job is queued.

``hydra/launcher=slurm`` runs each job of a multirun as a Slurm job through submitit. sbatch
refuses a partition that does not exist or GPUs on nodes without them only once the sweep is
under way, in a traceback; :func:`check_request` asks ``sinfo`` first and refuses with one line
naming the key. (Lightning's ``SLURMEnvironment`` and
:class:`~seqlstm.callbacks.PreemptionCheckpoint` do the save, requeue and resume in the job.)
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

from seqlstm.errors import ConfigError

KEY = "hydra.launcher"


def check_request(params: Mapping[str, Any]) -> None:
    """Refuse launcher ``params`` (``hydra.launcher``) that this cluster cannot run: Slurm's
    commands missing or its controller silent, an unknown partition, GPUs on a partition
    whose nodes have none."""
    partitions, default = partition_gres()
    name = params.get("partition") or default
    if name not in partitions:
        raise ConfigError(f"{KEY}.partition", f"a partition of this cluster, one of "
                          f"{sorted(partitions)}", params.get("partition"))
    for key in ("gpus_per_node", "gpus_per_task", "gres"):
        wanted = gpus(params.get(key))
        if wanted and not any(gpus(gres) for gres in partitions[name]):
            raise ConfigError(f"{KEY}.{key}", f"0 or null: the nodes of partition '{name}' "
                              "have no GPUs (train on CPU: trainer.accelerator=cpu)",
                              params.get(key))


def partition_gres() -> tuple[dict[str, list[str]], str | None]:
    """Every partition with the generic resources of its nodes, and the default partition."""
    if shutil.which("sinfo") is None:
        raise ConfigError("hydra/launcher", "a launcher of this machine: Slurm's sinfo is not "
                          "installed here (hydra/launcher=local_parallel runs jobs locally)",
                          "slurm")
    result = subprocess.run(["sinfo", "--noheader", "--format=%P|%G"], capture_output=True,
                            text=True, timeout=60)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no answer"])[-1]
        raise ConfigError("hydra/launcher", f"a Slurm cluster that answers (sinfo: {reason})",
                          "slurm")
    partitions: dict[str, list[str]] = {}
    default = None
    for line in result.stdout.splitlines():
        name, _, gres = line.strip().partition("|")
        if name.endswith("*"):
            name = default = name[:-1]
        partitions.setdefault(name, []).append(gres)
    return partitions, default


def gpus(value: Any) -> int:
    """How many GPUs a launcher value or a node's Gres names: ``2``, ``"a100:2"``,
    ``"gpu:a100:2(S:0)"``; 0 for None or resources without a GPU."""
    if value is None or isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    if text.isdigit():
        return int(text)
    total = 0
    for item in text.split(","):
        if item.startswith("gpu"):
            count = re.match(r"gpu(?::[^:(]+)?:(\d+)", item)
            total += int(count.group(1)) if count else 1
        elif re.fullmatch(r"[A-Za-z0-9_-]+:\d+", item):  # a type and a count: gpus_per_node
            total += int(item.rsplit(":", 1)[1])
    return total
