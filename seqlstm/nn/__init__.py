"""Plain torch building blocks; nothing here knows about Lightning."""

from seqlstm.nn.dropout import LockedDropout, embedding_dropout
from seqlstm.nn.encoder import EncoderConfig, HiddenState, RecurrentEncoder, RecurrentLayer
from seqlstm.nn.heads import StepHead, TiedDecoder
from seqlstm.nn.state import detach_state, reset_rows, select_batch

__all__ = [
    "EncoderConfig",
    "HiddenState",
    "LockedDropout",
    "RecurrentEncoder",
    "RecurrentLayer",
    "StepHead",
    "TiedDecoder",
    "detach_state",
    "embedding_dropout",
    "reset_rows",
    "select_batch",
]
