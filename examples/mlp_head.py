"""A custom head: a language model that predicts the next token through a small MLP.

The extra constructor argument ``head_hidden`` is saved in checkpoints like every other
hyperparameter, so ``seqlstm-eval`` and ``seqlstm-generate`` rebuild the same model:

    PYTHONPATH=examples seqlstm-train model._target_=mlp_head.MLPHeadLanguageModel \
        +model.head_hidden=128
"""

from __future__ import annotations

from typing import Any

from torch import nn

from seqlstm.errors import ConfigError
from seqlstm.tasks import LanguageModel


class MLPHeadLanguageModel(LanguageModel):
    """:class:`LanguageModel` with ``Linear -> GELU -> Linear`` at every step.

    Args:
        head_hidden: width of the MLP's hidden layer.
        **kwargs: see :class:`LanguageModel`.
    """

    def __init__(self, *args: Any, head_hidden: int = 128, **kwargs: Any) -> None:
        if isinstance(head_hidden, bool) or not isinstance(head_hidden, int) or head_hidden < 1:
            raise ConfigError("model.head_hidden", "an integer >= 1", head_hidden)
        self.head_hidden = head_hidden
        super().__init__(*args, **kwargs)

    def build_head(self) -> nn.Module:
        # (B, T, H) -> (B, T, head_hidden) -> (B, T, V)
        return nn.Sequential(nn.Linear(self.encoder.output_size, self.head_hidden), nn.GELU(),
                             nn.Linear(self.head_hidden, self.spec.output_size))
