"""seqlstm's Slurm launcher: hydra/launcher=slurm, checked against the cluster first."""
