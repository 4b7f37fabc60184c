"""ONNX and TorchScript exports run step by step with explicit state, matching PyTorch."""

from __future__ import annotations

import json
import re

import numpy as np
import onnxruntime as ort
import pytest
import torch

from seqlstm.data import DataSpec
from seqlstm.errors import SeqlstmError
from seqlstm.export import StepModule, export, export_onnx
from seqlstm.tasks import Classifier, Forecaster, LanguageModel, Tagger
from tests.conftest import run_cli
from tests.helpers.checkpoints import tagger, tiny_lm_checkpoint
from tests.helpers.probes import run_main

STEPS = 50
ENCODERS = {
    "lstm": {"cell": "lstm"},
    "gru": {"cell": "gru"},
    "rnn": {"cell": "rnn"},
    "stacked_lstm": {"cell": "lstm", "num_layers": 2, "dropout": 0.2},
    "stacked_gru": {"cell": "gru", "num_layers": 3},
    "stacked_rnn": {"cell": "rnn", "num_layers": 2},
}
BIDIRECTIONAL = {
    "bi_lstm": {"cell": "lstm", "num_layers": 2, "bidirectional": True},
    "bi_gru": {"cell": "gru", "bidirectional": True},
    "bi_rnn": {"cell": "rnn", "bidirectional": True},
}


def language_model(**encoder) -> LanguageModel:
    torch.manual_seed(0)
    spec = DataSpec(input_kind="tokens", target_kind="next_token", input_size=13,
                    output_size=13)
    return LanguageModel(spec=spec.as_dict(), encoder={"hidden_size": 12, **encoder},
                         embedding_dim=6).eval()


def make_task(kind: str, encoder: dict):
    return language_model(**encoder) if kind == "tokens" else tagger(**encoder)


def random_inputs(task, batch: int, steps: int) -> torch.Tensor:
    torch.manual_seed(1)
    if task.spec.input_kind == "tokens":
        return torch.randint(0, task.spec.input_size, (batch, steps))
    return torch.randn(batch, steps, task.spec.input_size)


def onnx_runner(path):
    session = ort.InferenceSession(str(path))
    names = [i.name for i in session.get_inputs()]

    def run(inputs, *rest):
        feeds = dict(zip(names, [inputs.numpy(), *(s.numpy() for s in rest)], strict=True))
        return [torch.from_numpy(out) for out in session.run(None, feeds)]

    return run


def rollout(run, task, inputs: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Feed ``inputs`` one step at a time through ``run(step, *state) -> (out, *state)``."""
    state = StepModule(task).zero_state(inputs.size(0))
    outputs = []
    for t in range(inputs.size(1)):
        out, *state = run(inputs[:, t : t + 1], *state)
        outputs.append(out)
    return torch.cat(outputs, dim=1), state


def torch_rollout(task, inputs):
    """The reference: the task itself, carrying its state through ``task.step``."""
    state, outputs = None, []
    with torch.no_grad():
        for t in range(inputs.size(1)):
            out, state = task.step(inputs[:, t : t + 1], state)
            outputs.append(out[:, None])
    return torch.cat(outputs, dim=1), list(state) if isinstance(state, tuple) else [state]


@pytest.mark.parametrize("kind", ["tokens", "real"])
@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_onnx_and_torchscript_match_pytorch_over_a_stateful_rollout(name, kind, tmp_path):
    task = make_task(kind, ENCODERS[name])
    paths = export(task, tmp_path, name)
    assert [p.name for p in paths] == [f"{name}.onnx", f"{name}.pt", f"{name}.json"]
    inputs = random_inputs(task, batch=3, steps=STEPS)
    expected, expected_state = torch_rollout(task, inputs)
    scripted = torch.jit.load(str(tmp_path / f"{name}.pt"))
    for run in (onnx_runner(tmp_path / f"{name}.onnx"), scripted):
        outputs, state = rollout(run, task, inputs)
        assert outputs.shape == expected.shape
        assert (outputs - expected).abs().max() < 1e-5
        for got, want in zip(state, expected_state, strict=True):
            assert (got - want).abs().max() < 1e-5


def every_task(name: str):
    """Each task class of seqlstm, untrained and seeded, with its exported extra inputs."""
    torch.manual_seed(0)
    encoder = {"hidden_size": 10, "num_layers": 2}
    if name == "language_model":
        return language_model(cell="lstm", num_layers=2)
    if name == "classifier":
        spec = DataSpec("real", "class", input_size=3, output_size=4, variable_length=True)
        return Classifier(spec=spec.as_dict(), encoder={**encoder, "cell": "gru"}).eval()
    if name == "tagger":
        spec = DataSpec("real", "step_class", input_size=3, output_size=5, variable_length=True)
        return Tagger(spec=spec.as_dict(), encoder=encoder).eval()
    extra = {"targets": ["y"], "past_covariates": ["p"], "future_covariates": ["f"]}
    spec = DataSpec("real", "real", input_size=3, output_size=1, horizon=4, extra=extra)
    strategy = "direct" if name == "direct_forecaster" else "autoregressive"
    return Forecaster(spec=spec.as_dict(), encoder=encoder, strategy=strategy,
                      loss="gaussian_nll").eval()


TASKS = ["language_model", "classifier", "tagger", "direct_forecaster",
         "autoregressive_forecaster"]


@pytest.mark.parametrize("name", TASKS)
def test_every_task_exports_and_matches_pytorch_with_the_state_carried(name, tmp_path):
    task = every_task(name)
    export(task, tmp_path, name)
    inputs = random_inputs(task, batch=3, steps=STEPS)
    extra = [torch.randn(3, *shape[1:]) for shape in task.export_inputs().values()]
    expected, state = [], None  # PyTorch: the task's own encoder and head, state carried
    with torch.no_grad():
        for t in range(STEPS):
            features, state = task.features(inputs[:, t : t + 1], state)
            expected.append(task.head(features, *extra))
    final = list(state) if isinstance(state, tuple) else [state]
    scripted = torch.jit.load(str(tmp_path / f"{name}.pt"))
    for run in (onnx_runner(tmp_path / f"{name}.onnx"), scripted):
        carried = list(StepModule(task).zero_state(3))
        for t in range(STEPS):
            out, *carried = run(inputs[:, t : t + 1], *carried, *extra)
            assert out.shape == expected[t].shape
            assert (out - expected[t]).abs().max() < 1e-5, f"step {t}"
        for got, want in zip(carried, final, strict=True):
            assert (got - want).abs().max() < 1e-5


def test_an_autoregressive_relative_forecaster_is_refused_by_name(tmp_path):
    spec = DataSpec("real", "real", input_size=1, output_size=1, horizon=2)
    task = Forecaster(spec=spec.as_dict(), encoder={"hidden_size": 4}, relative=True,
                      strategy="autoregressive")
    with pytest.raises(SeqlstmError, match=re.escape(
            "cannot export: model.task_options.real.relative=true with strategy=autoregressive")):
        export(task, tmp_path, "relative")


@pytest.mark.parametrize("name", sorted(BIDIRECTIONAL))
def test_bidirectional_exports_match_on_whole_sequences(name, tmp_path):
    task = tagger(**BIDIRECTIONAL[name])  # a language model refuses a backward direction
    export(task, tmp_path, name)
    inputs = random_inputs(task, batch=2, steps=STEPS)
    state = tuple(torch.randn_like(s) for s in StepModule(task).zero_state(2))
    with torch.no_grad():
        expected = StepModule(task)(inputs, *state)
        reference, _ = task(inputs, state if len(state) == 2 else state[0])
    assert torch.equal(expected[0], reference)
    scripted = torch.jit.load(str(tmp_path / f"{name}.pt"))
    for run in (onnx_runner(tmp_path / f"{name}.onnx"), scripted):
        for got, want in zip(run(inputs, *state), expected, strict=True):
            assert (got - want).abs().max() < 1e-5


def test_exports_accept_other_batch_sizes_and_lengths(tmp_path):
    task = language_model(cell="lstm", num_layers=2)
    export(task, tmp_path, "m", formats=("onnx",))
    run = onnx_runner(tmp_path / "m.onnx")
    for batch, steps in [(1, 1), (5, 17)]:
        inputs = random_inputs(task, batch, steps)
        state = StepModule(task).zero_state(batch)
        with torch.no_grad():
            expected = StepModule(task)(inputs, *state)
        for got, want in zip(run(inputs, *state), expected, strict=True):
            assert got.shape == want.shape and (got - want).abs().max() < 1e-5


def test_projected_lstm_is_refused_for_onnx_but_scripts(tmp_path):
    task = language_model(cell="lstm", proj_size=4)
    with pytest.raises(SeqlstmError, match="ONNX has no LSTM with projections"):
        export_onnx(task, tmp_path / "p.onnx")
    export(task, tmp_path, "p", formats=("torchscript",))
    inputs = random_inputs(task, 2, STEPS)
    expected, _ = torch_rollout(task, inputs)
    outputs, _ = rollout(torch.jit.load(str(tmp_path / "p.pt")), task, inputs)
    assert (outputs - expected).abs().max() < 1e-5


@pytest.mark.slow
def test_export_cli_writes_onnx_torchscript_and_metadata(tmp_path):
    ckpt = tiny_lm_checkpoint(tmp_path / "lm", num_layers=2)
    result = run_cli("export", f"ckpt_path={ckpt}", f"output_dir={tmp_path / 'out'}",
                     "name=charlm", cwd=tmp_path)
    written = result.stdout.split()
    assert [p.rsplit("/", 1)[-1] for p in written] == ["charlm.onnx", "charlm.pt", "charlm.json"]
    meta = json.loads((tmp_path / "out" / "charlm.json").read_text())
    assert meta["inputs"]["h"] == [2, "batch", 16] and meta["outputs"][1:] == ["h_next", "c_next"]
    assert meta["spec"]["vocab"][0] == "\ufffd" and meta["input_dtype"] == "int64"
    session = ort.InferenceSession(str(tmp_path / "out" / "charlm.onnx"))
    h = np.zeros((2, 1, 16), np.float32)
    logits, *_ = session.run(None, {"inputs": np.array([[3]]), "h": h, "c": h})
    assert logits.shape == (1, 1, len(meta["spec"]["vocab"]))


def test_export_cli_refuses_unknown_formats(tmp_path):
    from seqlstm.cli.scripts import export as export_cli

    ckpt = tiny_lm_checkpoint(tmp_path / "lm", steps=1)
    error = run_main(export_cli, f"ckpt_path={ckpt}", "formats=[onnx,tflite]", cwd=tmp_path)
    assert error == ("error: config key 'formats' must be a non-empty list drawn from "
                     "['onnx', 'torchscript'], got ['onnx', 'tflite']")
