"""seqlstm's Hydra plugins: the config search path."""
