"""Hydra entry points: compose, instantiate, run."""
