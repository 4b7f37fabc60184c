"""Gate-bias initialisations of the recurrent encoder.

``default`` keeps the encoder's own init (orthogonal recurrent matrices, forget-gate bias 1).
``chrono`` is the chrono initialisation of Tallec & Ollivier (2018, "Can recurrent neural
networks warp time?"): a gated cell whose forget gate is open by ``sigma(b_f)`` forgets with a
characteristic time of about ``1 / (1 - sigma(b_f))`` steps, so drawing

    b_f ~ log(U[1, max_delay - 1]),   b_i = -b_f

spreads the units' memory times over ``[1, max_delay]`` steps instead of the few steps that
bias 1 gives. For a GRU the update gate ``z`` plays the forget gate's part (torch:
``h' = (1 - z) * n + z * h``), so ``b_z ~ log(U[1, max_delay - 1])``. The draw goes into
``bias_ih``; the matching ``bias_hh`` entries are zeroed so the sum is the drawn value.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from seqlstm.errors import ConfigError

INITS = ("default", "chrono")
#: the gate rows of each cell's stacked biases (torch's gate order)
_GATES = {"lstm": 4, "gru": 3}
_BIAS = re.compile(r"(?:^|\.)bias_(ih|hh)_l\d+(?:_reverse)?$")


def check_init(init: str, cell: str, max_delay: int | None) -> None:
    """Raise :class:`ConfigError` for an unknown init, a cell chrono cannot set, or a bad
    ``max_delay`` (None is allowed: the task fills it from the data)."""
    if init not in INITS:
        raise ConfigError("init", f"one of {list(INITS)}", init)
    if init == "chrono" and cell not in _GATES:
        raise ConfigError("init", f"'default' for cell '{cell}' (chrono sets the gate biases "
                          f"of {sorted(_GATES)})", init)
    if max_delay is not None and (isinstance(max_delay, bool) or not isinstance(max_delay, int)
                                  or max_delay < 3):
        raise ConfigError("max_delay", "an integer >= 3 or null (from the data)", max_delay)


@torch.no_grad()
def chrono_init(module: nn.Module, cell: str, max_delay: int,
                generator: torch.Generator | None = None) -> int:
    """Set the forget (LSTM) or update (GRU) gate biases of every recurrent layer in
    ``module`` by chrono initialisation; returns how many bias vectors it set.

    Works on parameter names (``...bias_ih_l0``, ``...bias_hh_l0_reverse``), so any module
    holding torch ``nn.LSTM``/``nn.GRU`` parameters is covered, whatever its layer layout.
    """
    check_init("chrono", cell, max_delay)
    gates = _GATES[cell]
    count = 0
    for name, param in module.named_parameters():
        match = _BIAS.search(name)
        if match is None:
            continue
        hidden = param.size(0) // gates
        # torch gate order: LSTM (input, forget, cell, output); GRU (reset, update, new)
        keep = slice(hidden, 2 * hidden)
        if match.group(1) == "hh":
            param[keep] = 0.0
            if cell == "lstm":
                param[:hidden] = 0.0
            continue
        draw = torch.empty(hidden).uniform_(1.0, max_delay - 1.0, generator=generator)
        bias = draw.log().to(param.dtype)  # (H,)
        param[keep] = bias
        if cell == "lstm":
            param[:hidden] = -bias
        count += 1
    return count


def expected_memory(bias: torch.Tensor) -> torch.Tensor:
    """The characteristic forgetting time ``1 / (1 - sigma(b))`` of gate biases ``b``."""
    return 1.0 / (1.0 - torch.sigmoid(bias))
