"""Plain torch building blocks; nothing here knows about Lightning."""

from seqlstm.nn.dropout import LockedDropout, embedding_dropout
from seqlstm.nn.encoder import EncoderConfig, HiddenState, RecurrentEncoder, RecurrentLayer
from seqlstm.nn.heads import DirectHead, StepHead, TiedDecoder
from seqlstm.nn.pooling import POOLINGS, PooledHead, SequencePool, last_step, valid_mask
from seqlstm.nn.state import detach_state, map_state, reset_rows, state_to

__all__ = [
    "POOLINGS",
    "DirectHead",
    "EncoderConfig",
    "HiddenState",
    "LockedDropout",
    "PooledHead",
    "RecurrentEncoder",
    "RecurrentLayer",
    "SequencePool",
    "StepHead",
    "TiedDecoder",
    "detach_state",
    "embedding_dropout",
    "last_step",
    "map_state",
    "reset_rows",
    "state_to",
    "valid_mask",
]
