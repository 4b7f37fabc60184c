"""Running one training job over several processes, GPUs and machines (Lightning DDP)."""

from seqlstm.distributed.checks import check_launch, check_trainer_config
from seqlstm.distributed.launch import rank_overrides
from seqlstm.distributed.threads import ThreadsPerRank, usable_cores

__all__ = ["ThreadsPerRank", "check_launch", "check_trainer_config", "rank_overrides",
           "usable_cores"]
