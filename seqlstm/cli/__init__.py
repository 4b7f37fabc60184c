"""Hydra entry points: compose, instantiate, run."""

from seqlstm import runtime

runtime.prepare_process()  # before any console script imports torch (GOMP_SPINCOUNT)
