"""Plain torch building blocks; nothing here knows about Lightning."""

from seqlstm.nn.ctc import FrameStack, beam_decode, greedy_decode, prefix_beam_search
from seqlstm.nn.dropout import LockedDropout, embedding_dropout
from seqlstm.nn.encoder import EncoderConfig, HiddenState, RecurrentEncoder, RecurrentLayer
from seqlstm.nn.heads import DirectHead, StepHead, TiedDecoder
from seqlstm.nn.pooling import POOLINGS, PooledHead, SequencePool, last_step, valid_mask
from seqlstm.nn.state import detach_state, map_state, reset_rows, state_to
from seqlstm.nn.statics import StaticEmbedding, embedding_width

__all__ = [
    "POOLINGS",
    "DirectHead",
    "EncoderConfig",
    "FrameStack",
    "HiddenState",
    "LockedDropout",
    "PooledHead",
    "RecurrentEncoder",
    "RecurrentLayer",
    "SequencePool",
    "StaticEmbedding",
    "StepHead",
    "TiedDecoder",
    "beam_decode",
    "detach_state",
    "embedding_dropout",
    "embedding_width",
    "greedy_decode",
    "last_step",
    "map_state",
    "prefix_beam_search",
    "reset_rows",
    "state_to",
    "valid_mask",
]
