"""A custom encoder: stacked recurrent layers with residual connections (as in GNMT).

Each layer above the first adds its input to its output, so deep stacks train like shallow
ones. Use it with any stacked model config:

    PYTHONPATH=examples seqlstm-train model=stacked_lstm \
        model._target_=residual_lstm.ResidualLanguageModel
"""

from __future__ import annotations

import torch

from seqlstm.nn import HiddenState, RecurrentEncoder
from seqlstm.nn.encoder import EncoderConfig, join_layers, split_layers
from seqlstm.tasks import LanguageModel


class ResidualEncoder(RecurrentEncoder):
    """:class:`RecurrentEncoder` with ``x + layer(x)`` for every layer above the first."""

    def forward(self, x: torch.Tensor, state: HiddenState | None = None,
                lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, HiddenState]:
        # x: (B, T, F) -> (B, T, D * H); layers above the first map D * H -> D * H
        new_states = []
        for index, (layer, layer_state) in enumerate(
                zip(self.layers, split_layers(state, self.config), strict=True)):
            out, layer_state = layer(self.between(x) if index else x, layer_state, lengths)
            x = x + out if index else out
            new_states.append(layer_state)
        return self.output_dropout(x), join_layers(new_states)


class ResidualLanguageModel(LanguageModel):
    """A language model whose encoder is a :class:`ResidualEncoder`."""

    def build_encoder(self, input_size: int, config: EncoderConfig) -> RecurrentEncoder:
        return ResidualEncoder(input_size, config)
