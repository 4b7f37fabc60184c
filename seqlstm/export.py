"""TorchScript and ONNX export with the hidden state as explicit inputs and outputs.

An exported model is a pure function of one chunk of inputs and the state it starts from::

    LSTM:      (inputs, h, c[, extra]) -> (outputs, h_next, c_next)
    GRU, RNN:  (inputs, h[, extra])    -> (outputs, h_next)

    inputs   (B, T) int64 token ids, or (B, T, F) float32 features    B, T dynamic
    h, c     (L * D, B, H) float32; zeros to start a sequence          L layers, D directions
    extra    what the task reads besides the chunk, in ``task.export_inputs()`` order: a
             direct forecaster's known-future covariates ``future`` (B, horizon, C), a
             forecaster's static covariates ``static_categorical`` (B, K) int64 codes and
             ``static_real`` (B, K) float32, and its ``series`` (B,) int64 scaler rows (for a
             series embedding)
    outputs  the task head's outputs: (B, T, ...) at every step for a language model, a tagger
             or an autoregressive forecaster (in standardised units); (B, C) class logits of
             the chunk's pooled steps for a classifier; (B, horizon, W) for a direct forecaster

Feeding ``h_next`` (and ``c_next``) back in with the next chunk (``T = 1`` for one step at a
time) continues the sequence exactly as the PyTorch model does. Bidirectional encoders export
too, but only whole sequences are meaningful for them (the backward direction reads the future),
and so are a classifier's ``mean``/``max`` pooling (they pool the chunk, not the sequence).
A ``.json`` file next to the exports records the names, shapes, data spec and vocabulary.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seqlstm.errors import SeqlstmError
from seqlstm.targets import qualified_name
from seqlstm.tasks import SequenceTask

FORMATS = ("onnx", "torchscript")
#: the warnings torch prints for every trace/export of a recurrent model; none is actionable
_QUIET = ("`torch.jit", "You are using the legacy TorchScript-based ONNX",
          "The feature will be removed", "Converting a tensor to a Python boolean",
          "Exporting a model to ONNX with a batch_size other than 1")


class StepModule(nn.Module):
    """A task as a function of explicit state: ``(inputs, *state) -> (outputs, *next_state)``."""

    def __init__(self, task: SequenceTask) -> None:
        super().__init__()
        refusal = task.export_refusal()
        if refusal is not None:
            raise SeqlstmError(f"cannot export: {refusal}")
        # the task's parts, not the LightningModule itself: tracing reads every attribute of
        # every submodule, and a LightningModule's `trainer` raises outside a Trainer
        self.embedding = task.embedding if task.embedding is not None else nn.Identity()
        self.encoder, self.head = task.encoder, task.head
        self.spec = task.spec
        self.task_name = qualified_name(type(task))
        self.is_lstm = task.encoder.config.cell == "lstm"
        self.extra_inputs = task.export_inputs()
        self.integer_inputs = [n for n in self.extra_inputs if n in task.integer_export_inputs]
        #: the task's own computation, when it does more than head(encoder(embed(...)))
        self.network = task.export_network()
        self.train(False)

    @property
    def state_names(self) -> list[str]:
        return ["h", "c"] if self.is_lstm else ["h"]

    def forward(self, inputs: torch.Tensor, *rest: torch.Tensor) -> tuple[torch.Tensor, ...]:
        count = len(self.state_names)
        state, extra = rest[:count], rest[count:]
        start = tuple(state) if self.is_lstm else state[0]
        if self.network is not None:
            outputs, next_state = self.network(inputs, start, *extra)
        else:  # (B, T) ids -> (B, T, E), or (B, T, F) features unchanged
            features, next_state = self.encoder(self.embedding(inputs), start)
            outputs = self.head(features, *extra)  # (B, T, H) -> the head's outputs
        return (outputs, *(next_state if self.is_lstm else (next_state,)))

    def zero_state(self, batch_size: int) -> tuple[torch.Tensor, ...]:
        """The state a sequence starts from: zeros of the exported shapes."""
        config = self.encoder.config
        rows = config.num_layers * config.num_directions
        h = torch.zeros(rows, batch_size, config.layer_output_size)
        if not self.is_lstm:
            return (h,)
        return h, torch.zeros(rows, batch_size, config.hidden_size)

    def example(self, batch_size: int = 2, steps: int = 3) -> tuple[torch.Tensor, ...]:
        """Example inputs for tracing (sizes > 1, so no dimension is taken for a constant)."""
        spec = self.spec
        # a front end that shortens time (CTC frame stacking) must still leave > 1 step
        steps *= getattr(self.embedding, "time_reduction", 1)
        if spec.input_kind == "tokens":
            inputs = torch.randint(0, spec.input_size, (batch_size, steps))
        else:
            inputs = torch.randn(batch_size, steps, spec.input_size)
        extra = [torch.zeros(batch_size, *shape[1:], dtype=torch.long)
                 if name in self.integer_inputs else torch.randn(batch_size, *shape[1:])
                 for name, shape in self.extra_inputs.items()]
        return (inputs, *self.zero_state(batch_size), *extra)

    def signature(self) -> dict[str, Any]:
        """Names, dtypes and shapes of the exported inputs and outputs, as plain data."""
        config, spec = self.encoder.config, self.spec
        rows = config.num_layers * config.num_directions
        widths = {"h": config.layer_output_size, "c": config.hidden_size}
        inputs = {"inputs": ["batch", "time"] if spec.input_kind == "tokens"
                  else ["batch", "time", spec.input_size]}
        state = {name: [rows, "batch", widths[name]] for name in self.state_names}
        return {"task": self.task_name,
                "inputs": {**inputs, **state, **self.extra_inputs},
                "outputs": ["outputs", *(f"{name}_next" for name in self.state_names)],
                "input_dtype": "int64" if spec.input_kind == "tokens" else "float32",
                "extra_dtypes": {name: "int64" if name in self.integer_inputs else "float32"
                                 for name in self.extra_inputs},
                "bidirectional": config.bidirectional,
                "spec": spec.as_dict()}


def export_torchscript(task: SequenceTask, path: str | Path) -> Path:
    """Trace ``task`` as a :class:`StepModule` and save it with ``torch.jit.save``."""
    module = StepModule(task)
    with torch.no_grad(), _quiet():
        traced = torch.jit.trace(module, module.example())
    traced.save(str(path))
    return Path(path)


def export_onnx(task: SequenceTask, path: str | Path, opset: int = 17) -> Path:
    """Export ``task`` as a :class:`StepModule` to ONNX with dynamic batch and time axes.

    Uses torch's TorchScript-based exporter (``dynamo=False``; deprecated in torch 2.9 but
    shipped in 2.13), which maps each layer to one ONNX ``LSTM``/``GRU``/``RNN`` node with a
    dynamic sequence length. torch 2.13's ``torch.export`` exporter bakes the example's length
    into the reshape between stacked layers and mis-sizes LSTMs with projections, so its graphs
    give wrong results at other lengths. ONNX has no LSTM with projections: those are refused.
    """
    module = StepModule(task)
    if module.encoder.config.proj_size:
        raise SeqlstmError("model.encoder.proj_size > 0: ONNX has no LSTM with projections; "
                           "export this model with formats=[torchscript]")
    inputs = ["inputs", *module.state_names, *module.extra_inputs]
    outputs = ["outputs", *(f"{name}_next" for name in module.state_names)]
    steps_out = {0: "batch", 1: "time"} if task.per_step_outputs else {0: "batch"}
    axes = {"inputs": {0: "batch", 1: "time"}, "outputs": steps_out,
            **{name: {1: "batch"} for name in [*module.state_names, *outputs[1:]]},
            **{name: {0: "batch"} for name in module.extra_inputs}}
    torch.onnx.register_custom_op_symbolic("aten::expm1", _expm1, opset)
    try:
        with torch.no_grad(), _quiet():
            torch.onnx.export(module, module.example(), str(path), input_names=inputs,
                              output_names=outputs, dynamic_axes=axes, opset_version=opset,
                              dynamo=False)
    finally:
        torch.onnx.unregister_custom_op_symbolic("aten::expm1", opset)
    return Path(path)


def export(task: SequenceTask, folder: str | Path, name: str,
           formats: tuple[str, ...] = FORMATS, opset: int = 17) -> list[Path]:
    """Write ``name.onnx`` and/or ``name.pt`` (TorchScript) and ``name.json`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if "onnx" in formats:
        written.append(export_onnx(task, folder / f"{name}.onnx", opset))
    if "torchscript" in formats:
        written.append(export_torchscript(task, folder / f"{name}.pt"))
    meta = folder / f"{name}.json"
    meta.write_text(json.dumps(StepModule(task).signature(), indent=2) + "\n", encoding="utf-8")
    return [*written, meta]


def _expm1(g: Any, x: Any) -> Any:
    """``exp(x) - 1`` in ONNX, which has no ``expm1`` (a forecaster's window transform maps
    spreads back through ``softplus_inverse``, which uses it)."""
    one = g.op("Constant", value_t=torch.tensor(1.0))
    return g.op("Sub", g.op("Exp", x), one)


class _quiet(warnings.catch_warnings):
    """Silence the known, harmless warnings of tracing and exporting recurrent modules."""

    def __enter__(self) -> None:
        super().__enter__()
        for text in _QUIET:
            warnings.filterwarnings("ignore", message=f".*{text}")
