"""The recurrent encoder: LSTM, GRU or tanh RNN, stacked, optionally bidirectional.

Each layer is its own single-layer torch RNN module so that every dropout kind can sit between
layers (standard or locked) and weight drop can act on each layer's recurrent matrices. The
hidden state keeps torch's layout, ``(num_layers * num_directions, B, H)``, and is always
explicit: ``forward`` takes it and returns it.

Fused path: a stack that needs neither locked dropout nor weight drop runs as one multi-layer
torch RNN call over the same per-layer parameters (one oneDNN or cuDNN call, which pipelines
the layers), so the state dict, and the checkpoints, are the same either way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqlstm.errors import ConfigError, check_int, check_number
from seqlstm.nn.dropout import make_dropout
from seqlstm.nn.init import check_init, chrono_init

#: LSTM state is ``(h, c)``; GRU and RNN state is ``h``.
HiddenState = torch.Tensor | tuple[torch.Tensor, torch.Tensor]

CELLS: dict[str, type[nn.RNNBase]] = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
#: fused one-step kernels: a (B, 1, F) input skips the sequence kernel's per-call set-up
#: (oneDNN re-packs the weights on every call), which dominates when generating one step at a time
STEP_KERNELS = {"lstm": torch.lstm_cell, "gru": torch.gru_cell, "rnn": torch.rnn_tanh_cell}
DROPOUT_KINDS = ("standard", "locked")


@dataclass(frozen=True)
class EncoderConfig:
    """Hyperparameters of :class:`RecurrentEncoder`; checked on construction."""

    cell: str = "lstm"
    hidden_size: int = 256
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    """Dropout between stacked layers (needs ``num_layers >= 2``)."""
    output_dropout: float = 0.0
    """Dropout on the top layer's outputs."""
    dropout_kind: str = "standard"
    """``standard`` (a fresh mask per element) or ``locked`` (one mask per sequence)."""
    weight_drop: float = 0.0
    """DropConnect on the hidden-to-hidden weights (AWD-LSTM), resampled every forward."""
    proj_size: int = 0
    """LSTM only: project each layer's hidden state to this size (0 = no projection)."""
    init: str = "default"
    """Gate biases: ``default`` (forget bias ``forget_bias``) or ``chrono`` (see
    :mod:`seqlstm.nn.init`)."""
    forget_bias: float = 1.0
    """LSTM, default init: the forget-gate bias (1 keeps a unit's memory open early in
    training; 0 is torch's and pytorch/examples' choice and trains word LMs with plain SGD at a
    high rate better, see docs/text.md)."""
    max_delay: int | None = None
    """Chrono init: the longest dependency in steps (None: the task takes it from the data)."""

    def __post_init__(self) -> None:
        if not isinstance(self.cell, str) or self.cell not in CELLS:
            raise ConfigError("cell", f"one of {sorted(CELLS)}", self.cell)
        check_init(self.init, self.cell, self.max_delay)
        check_number("forget_bias", self.forget_bias)
        if self.forget_bias != 1.0 and (self.cell != "lstm" or self.init != "default"):
            raise ConfigError("forget_bias", "1.0 unless cell is 'lstm' with init 'default' "
                              "(only that init sets a forget gate from it)", self.forget_bias)
        if not isinstance(self.bidirectional, bool):
            raise ConfigError("bidirectional", "true or false", self.bidirectional)
        check_int("hidden_size", self.hidden_size, 1)
        check_int("num_layers", self.num_layers, 1)
        check_int("proj_size", self.proj_size, 0)
        for key in ("dropout", "output_dropout", "weight_drop"):
            value = getattr(self, key)
            check_number(key, value, 0, 1, high_open=True)
        if not isinstance(self.dropout_kind, str) or self.dropout_kind not in DROPOUT_KINDS:
            raise ConfigError("dropout_kind", f"one of {list(DROPOUT_KINDS)}", self.dropout_kind)
        if self.dropout > 0 and self.num_layers == 1:
            raise ConfigError(
                "dropout", "0 with num_layers=1 (it acts between layers; use output_dropout)",
                self.dropout,
            )
        if self.proj_size and self.cell != "lstm":
            raise ConfigError("proj_size", "0 unless cell is 'lstm'", self.proj_size)
        if self.proj_size >= self.hidden_size:
            raise ConfigError("proj_size", f"smaller than hidden_size={self.hidden_size}",
                              self.proj_size)

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def layer_output_size(self) -> int:
        """Width of one direction's output at each step."""
        return self.proj_size or self.hidden_size

    @property
    def output_size(self) -> int:
        """Width of the encoder's output at each step (both directions concatenated)."""
        return self.layer_output_size * self.num_directions


class RecurrentLayer(nn.Module):
    """One recurrent layer (both directions), with optional weight drop and packing."""

    def __init__(self, input_size: int, config: EncoderConfig) -> None:
        super().__init__()
        rnn_cls = CELLS[config.cell]
        kwargs: dict[str, Any] = {"proj_size": config.proj_size} if config.cell == "lstm" else {}
        self.rnn = rnn_cls(input_size, config.hidden_size, num_layers=1, batch_first=True,
                           bidirectional=config.bidirectional, **kwargs)
        self.weight_drop = config.weight_drop
        self.is_lstm = config.cell == "lstm"
        self.step_kernel = (STEP_KERNELS[config.cell]
                            if not config.bidirectional and not config.proj_size else None)
        self._reset_parameters(config.forget_bias)

    def _reset_parameters(self, forget_bias: float) -> None:
        """Orthogonal recurrent matrices (per gate), Xavier inputs, zero biases but the LSTM
        forget gate's ``forget_bias``."""
        for name, param in self.rnn.named_parameters():
            if name.startswith("weight_hh"):
                for gate in param.data.chunk(param.size(0) // param.size(1)):
                    nn.init.orthogonal_(gate)
            elif name.startswith("weight_ih"):
                nn.init.xavier_uniform_(param.data)
            elif name.startswith("weight_hr"):
                nn.init.orthogonal_(param.data)
            elif name.startswith("bias"):
                nn.init.zeros_(param.data)
                if self.is_lstm and name.startswith("bias_ih"):
                    hidden = param.size(0) // 4
                    # gate order: input, forget, cell, output
                    param.data[hidden : 2 * hidden] = forget_bias

    def forward(self, x: torch.Tensor, state: HiddenState | None,
                lengths: torch.Tensor | None) -> tuple[torch.Tensor, HiddenState]:
        # x: (B, T, F) -> out: (B, T, D * H)
        if (x.size(1) == 1 and lengths is None and self.step_kernel is not None
                and not (self.training and self.weight_drop > 0)):
            return self._one_step(x, state)
        total_length = x.size(1)
        inputs: Any = x
        if lengths is not None:
            inputs = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        if self.training and self.weight_drop > 0:
            dropped = {name: nn.functional.dropout(p, self.weight_drop, training=True)
                       for name, p in self.rnn.named_parameters() if name.startswith("weight_hh")}
            out, state = functional_call(self.rnn, dropped, (inputs, state), strict=False)
        else:
            out, state = self.rnn(inputs, state)
        if lengths is not None:
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=total_length)
        return out, state

    def _one_step(self, x: torch.Tensor, state: HiddenState | None) -> tuple[torch.Tensor,
                                                                                HiddenState]:
        """One step of a unidirectional layer with the fused cell kernel (same numbers)."""
        rnn = self.rnn
        weights = (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
        if state is None:
            zeros = x.new_zeros(1, x.size(0), rnn.hidden_size)
            state = (zeros, zeros) if self.is_lstm else zeros
        if self.is_lstm:
            h, c = self.step_kernel(x[:, 0], (state[0][0], state[1][0]), *weights)  # (B, H)
            return h.unsqueeze(1), (h.unsqueeze(0), c.unsqueeze(0))
        h = self.step_kernel(x[:, 0], state[0], *weights)  # (B, H)
        return h.unsqueeze(1), h.unsqueeze(0)


class RecurrentEncoder(nn.Module):
    """A stack of recurrent layers mapping ``(B, T, input_size)`` to ``(B, T, output_size)``."""

    def __init__(self, input_size: int, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        widths = [input_size] + [config.output_size] * (config.num_layers - 1)
        self.layers = nn.ModuleList(RecurrentLayer(width, config) for width in widths)
        self.between = make_dropout(config.dropout, config.dropout_kind)
        self.output_dropout = make_dropout(config.output_dropout, config.dropout_kind)
        if config.init == "chrono":
            if config.max_delay is None:
                raise ConfigError("max_delay", "an integer >= 3 for init=chrono (this data "
                                  "states no dependency range)", None)
            chrono_init(self, config.cell, config.max_delay)
        # a parameterless multi-layer RNN (on the meta device, not a submodule: it owns no
        # state) that functional_call runs with the layers' own weights
        self.__dict__["fused"] = fused_rnn(input_size, config) if can_fuse(config) else None

    @property
    def output_size(self) -> int:
        return self.config.output_size

    def forward(self, x: torch.Tensor, state: HiddenState | None = None,
                lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, HiddenState]:
        """Encode ``x`` (B, T, F) from ``state`` (zeros if None); padded steps past ``lengths``
        are skipped (packed) and come out as zeros."""
        # tracing (TorchScript, ONNX export) keeps one graph node per layer
        if self.fused is not None and x.size(1) > 1 and not torch.jit.is_tracing():
            return self._fused_forward(x, state, lengths)
        layer_states = split_layers(state, self.config)
        new_states = []
        for index, (layer, layer_state) in enumerate(zip(self.layers, layer_states, strict=True)):
            if index > 0:
                x = self.between(x)
            x, layer_state = layer(x, layer_state, lengths)
            new_states.append(layer_state)
        return self.output_dropout(x), join_layers(new_states)

    def _fused_forward(self, x: torch.Tensor, state: HiddenState | None,
                       lengths: torch.Tensor | None) -> tuple[torch.Tensor, HiddenState]:
        """The whole stack in one multi-layer RNN call (same numbers as layer by layer)."""
        # x: (B, T, F) -> out: (B, T, D * H)
        weights = {name.replace("_l0", f"_l{index}"): param
                   for index, layer in enumerate(self.layers)
                   for name, param in layer.rnn.named_parameters()}
        self.fused.training = self.training  # dropout between layers follows this module
        inputs: Any = x
        if lengths is not None:
            inputs = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, state = functional_call(self.fused, weights, (inputs, state))
        if lengths is not None:
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
        return self.output_dropout(out), state

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in asdict(self.config).items())


def can_fuse(config: EncoderConfig) -> bool:
    """Whether the stack can run as one multi-layer torch RNN: two or more layers, standard
    dropout (or none) between them and no weight drop."""
    return (config.num_layers > 1 and config.weight_drop == 0
            and (config.dropout == 0 or config.dropout_kind == "standard"))


def fused_rnn(input_size: int, config: EncoderConfig) -> nn.RNNBase:
    """A multi-layer RNN of ``config``'s shape on the meta device (its weights are supplied)."""
    kwargs: dict[str, Any] = {"proj_size": config.proj_size} if config.cell == "lstm" else {}
    return CELLS[config.cell](input_size, config.hidden_size, num_layers=config.num_layers,
                              dropout=config.dropout, batch_first=True,
                              bidirectional=config.bidirectional, device="meta", **kwargs)


def split_layers(state: HiddenState | None, config: EncoderConfig) -> list[HiddenState | None]:
    """Split a stacked state ``(L * D, B, H)`` into one ``(D, B, H)`` state per layer."""
    if state is None:
        return [None] * config.num_layers
    d = config.num_directions
    if isinstance(state, tuple):
        return [tuple(s[i * d : (i + 1) * d] for s in state) for i in range(config.num_layers)]
    return [state[i * d : (i + 1) * d] for i in range(config.num_layers)]


def join_layers(states: list[HiddenState]) -> HiddenState:
    """Inverse of :func:`split_layers`."""
    if isinstance(states[0], tuple):
        return tuple(torch.cat(parts) for parts in zip(*states, strict=True))
    return torch.cat(states)
