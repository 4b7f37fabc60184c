"""seqlstm's Hydra sweeper on current Optuna: ``hydra/sweeper=seqlstm_optuna``."""
