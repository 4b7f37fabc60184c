"""The Hydra plugin of ``hydra/launcher=slurm``: Hydra's submitit launcher, with the request
checked against the cluster first (:mod:`seqlstm.distributed.slurm`). Without the ``slurm``
extra (hydra-submitit-launcher) there is nothing to register."""

from collections.abc import Sequence
from typing import Any

try:
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher
except ImportError:  # the `slurm` extra is not installed
    SlurmLauncher = None

if SlurmLauncher is not None:

    class SeqlstmSlurmLauncher(SlurmLauncher):
        """Refuses a partition, GPUs or a cluster that cannot run the jobs, in one line with
        exit status 2, before submitting any."""

        def launch(self, job_overrides: Sequence[Sequence[str]],
                   initial_job_idx: int) -> Sequence[Any]:
            from seqlstm.cli.entry import exit_bad_input
            from seqlstm.distributed.slurm import check_request
            from seqlstm.errors import SeqlstmError

            try:
                check_request(self.params)
            except SeqlstmError as err:
                exit_bad_input(err)
            return super().launch(job_overrides, initial_job_idx)
