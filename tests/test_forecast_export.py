"""Export of forecasters with RevIN, relative=true, static covariates and a series embedding:
the exported graphs compute what the task computes for the same windows."""

from __future__ import annotations

import json
import re

import numpy as np
import onnxruntime as ort
import pytest
import torch

from seqlstm.data import TimeSeriesDataModule
from seqlstm.errors import SeqlstmError
from seqlstm.export import StepModule, export
from seqlstm.tasks import Forecaster
from tests.helpers.reliability import compose_in
from tests.helpers.timeseries_data import stores

STATICS = {"static_categorical": ["region"], "static_real": ["size"]}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> TimeSeriesDataModule:
    """Four series with a categorical and a real static covariate and a known-future one."""
    path = tmp_path_factory.mktemp("stores") / "stores.csv"
    frame = stores()
    frame["dow"] = frame["t"] % 7
    frame.to_csv(path, index=False)
    dm = TimeSeriesDataModule(path, targets="y", time_column="t", id_column="id", lookback=8,
                              horizon=3, batch_size=16, future_covariates=["dow"], **STATICS)
    dm.setup("fit")
    return dm


def forecaster(dm: TimeSeriesDataModule, **options) -> Forecaster:
    torch.manual_seed(0)
    task = Forecaster(spec=dm.spec.as_dict(), encoder={"hidden_size": 6, "num_layers": 2},
                      **options).eval()
    with torch.no_grad():  # an affine away from its initial identity, so that it is exercised
        for name in ("revin_weight", "revin_bias"):
            if hasattr(task, name):
                getattr(task, name).add_(torch.randn_like(getattr(task, name)) * 0.3)
    return task


def runners(folder, name: str):
    """The metadata, and ``run(feeds) -> [outputs, *next_state]`` for the ONNX and the
    TorchScript export of ``name``."""
    meta = json.loads((folder / f"{name}.json").read_text())
    session = ort.InferenceSession(str(folder / f"{name}.onnx"))
    scripted = torch.jit.load(str(folder / f"{name}.pt"))
    order = list(meta["inputs"])

    def onnx(feeds):
        outputs = session.run(None, {k: v.numpy() for k, v in feeds.items()})
        return [torch.from_numpy(np.asarray(out)) for out in outputs]

    def script(feeds):
        with torch.no_grad():
            return list(scripted(*(feeds[k] for k in order)))

    return meta, (onnx, script)


CASES = {
    "revin_statics_embedding": {"normalization": "revin", "series_embedding": 3,
                                "loss": "gaussian_nll"},
    "revin_quantile_no_affine": {"normalization": "revin", "revin_affine": False,
                                 "loss": "quantile"},
    "relative_last_student_t": {"relative": True, "normalization": "none", "loss": "student_t"},
    "revin_relative_last": {"normalization": "revin", "relative": True},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_direct_exports_equal_the_tasks_own_outputs(data, case, tmp_path):
    task = forecaster(data, **CASES[case])
    assert task.export_refusal() is None
    export(task, tmp_path, case)
    meta, runs = runners(tmp_path, case)
    names = list(task.export_inputs())
    assert names == ["future", "static_categorical", "static_real",
                     *(["series"] if task.series_dim else [])]
    assert meta["extra_dtypes"] == {"future": "float32", "static_categorical": "int64",
                                    "static_real": "float32",
                                    **({"series": "int64"} if task.series_dim else {})}
    windows = data.windows["train"]  # 47 windows per series
    for rows in ([0, 50, 100, 150, len(windows) - 1], [3]):  # every series; another batch size
        batch = task.with_defaults(windows.__getitems__(rows))
        with torch.no_grad():
            expected = task.step_outputs(batch, "test")  # (B, horizon, W) standardised
        zero = StepModule(task).zero_state(len(rows))
        feeds = {"inputs": batch["inputs"], "h": zero[0], "c": zero[1],
                 **{name: batch[name] for name in names}}
        for run in runs:
            got = run(feeds)[0]
            assert got.shape == expected.shape
            assert (got - expected).abs().max() < 1e-5, run


def test_autoregressive_with_statics_exports_step_by_step(data, tmp_path):
    """No transform: statics are appended to every step of each chunk, as the task does."""
    task = forecaster(data, strategy="autoregressive", normalization="none", series_embedding=2)
    export(task, tmp_path, "ar")
    _, runs = runners(tmp_path, "ar")
    batch = task.with_defaults(data.windows["train"].__getitems__([0, 120]))
    prepared, transform = task.prepare(batch)
    assert transform is None
    with torch.no_grad():
        features, _ = task.features(prepared["inputs"])
        expected = task.head(features)  # (B, T, W) one-step-ahead outputs at every step
    for run in runs:
        state = list(StepModule(task).zero_state(2))
        for t in range(batch["inputs"].size(1)):
            feeds = {"inputs": batch["inputs"][:, t : t + 1], "h": state[0], "c": state[1],
                     **{k: batch[k] for k in ("static_categorical", "static_real", "series")}}
            got, *state = run(feeds)
            assert (got[:, 0] - expected[:, t]).abs().max() < 1e-5, (run, t)


@pytest.mark.parametrize(("options", "message"), [
    ({"relative": "seasonal", "normalization": "none"},
     "cannot export: model.task_options.real.relative=seasonal: the rows of the seasonal naive "
     "forecast depend on the window's length"),
    ({"strategy": "autoregressive", "normalization": "revin"},
     "cannot export: model.task_options.real.normalization=revin with "
     "strategy=autoregressive"),
    ({"strategy": "autoregressive", "relative": True, "normalization": "none"},
     "cannot export: model.task_options.real.relative=true with strategy=autoregressive"),
])
def test_what_cannot_be_exported_is_one_line_naming_the_key(data, options, message, tmp_path):
    with pytest.raises(SeqlstmError, match=re.escape(message)):
        export(forecaster(data, **options), tmp_path, "refused")
    assert not list(tmp_path.iterdir())  # nothing half-written


@pytest.mark.slow
def test_a_default_trained_forecaster_exports_and_answers_as_the_checkpoint(compose_train,
                                                                           tmp_path):
    """The default forecaster config (RevIN through normalization=auto) with static
    covariates and a series embedding: seqlstm-export writes it, and ONNX Runtime answers the
    test windows as the checkpoint's task does."""
    from seqlstm.cli.export import export_checkpoint
    from seqlstm.cli.train import train
    from seqlstm.tasks import load_task

    table = tmp_path / "stores.csv"
    stores().to_csv(table, index=False)
    run = tmp_path / "run"
    train(compose_in(compose_train, run, "data=timeseries", f"data.path={table}",
                     "data.targets=[y]", "data.time_column=t", "data.id_column=id",
                     "data.static_categorical=[region]", "data.static_real=[size]",
                     "model.task_options.real.series_embedding=2", "data.lookback=8",
                     "data.horizon=2", "model.encoder.hidden_size=8", "trainer.max_epochs=1",
                     "trainer.enable_progress_bar=false", "~callbacks.rich_progress_bar",
                     "test=false"))
    ckpt = next((run / "checkpoints").glob("epoch*.ckpt"))
    written = export_checkpoint(compose_train(f"ckpt_path={ckpt}", f"output_dir={tmp_path}",
                                              "name=default", config_name="export"))
    assert [p.name for p in written] == ["default.onnx", "default.pt", "default.json"]
    task = load_task(ckpt, Forecaster).eval()
    assert task.normalization == "revin"
    dm = TimeSeriesDataModule(table, targets="y", time_column="t", id_column="id", lookback=8,
                              horizon=2, batch_size=16, fitted=task.spec.extra, **STATICS)
    dm.setup("test")
    batch = task.with_defaults(dm.windows["test"].__getitems__(list(range(len(
        dm.windows["test"])))))
    with torch.no_grad():
        expected = task.step_outputs(batch, "test")
    zero = StepModule(task).zero_state(len(batch["series"]))
    feeds = {"inputs": batch["inputs"], "h": zero[0], "c": zero[1],
             **{name: batch[name] for name in task.export_inputs()}}
    _, (onnx, script) = runners(tmp_path, "default")
    for run_export in (onnx, script):
        assert (run_export(feeds)[0] - expected).abs().max() < 1e-5
