"""seqlstm: recurrent sequence models for PyTorch Lightning, composed with Hydra."""

from seqlstm import runtime as _runtime

__version__ = "0.1.0"

_runtime.inherit()  # a child of a seqlstm process (DDP rank, spawned worker) keeps its allocator
