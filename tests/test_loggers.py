"""Loggers: csv, tensorboard, wandb and several at once; W&B offline runs read back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from seqlstm.cli.builders import build_loggers
from seqlstm.cli.train import train
from seqlstm.data import CharDataModule
from seqlstm.errors import ConfigError
from seqlstm.tasks import LanguageModel
from seqlstm.tracking.callbacks import GradNormMonitor
from seqlstm.tracking.wandb import WandbLogger, choose_mode
from tests.conftest import FAST, REPO_ROOT, run_cli
from tests.helpers.runs import quiet_trainer, tiny
from tests.helpers.wandb_offline import read_run


@pytest.fixture
def offline_wandb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No W&B credentials, and every W&B folder inside ``tmp_path``."""
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    netrc = tmp_path / "netrc"
    netrc.write_text("")
    monkeypatch.setenv("NETRC", str(netrc))
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR",
                 "WANDB_ARTIFACT_DIR"):
        folder = tmp_path / "wandb-home" / name.lower()
        folder.mkdir(parents=True)
        monkeypatch.setenv(name, str(folder))
    return tmp_path


def test_logger_groups_compose_one_or_several(compose_train):
    assert set(compose_train().logger) == {"csv"}
    cfg = compose_train("logger=[csv,tensorboard,wandb]", "logger.wandb.mode=disabled")
    loggers = build_loggers(cfg.logger)
    assert [type(lg) for lg in loggers] == [CSVLogger, TensorBoardLogger, WandbLogger]
    assert loggers[2]._wandb_init["project"] == "seqlstm"
    assert not compose_train("logger=[]").get("logger")


def test_wandb_mode_is_offline_without_a_key_and_says_so(offline_wandb, monkeypatch):
    mode, notice = choose_mode(None)
    assert mode == "offline"
    assert notice.startswith("wandb: no API key") and "wandb sync" in notice
    assert "\n" not in notice
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert choose_mode(None) == ("online", None)
    (offline_wandb / "netrc").write_text("machine api.wandb.ai login user password key\n")
    monkeypatch.delenv("WANDB_API_KEY")
    assert choose_mode(None) == ("online", None)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert choose_mode(None) == ("disabled", None)
    assert choose_mode("offline") == ("offline", None)


def test_wandb_options_are_checked():
    expected = r"config key 'logger\.wandb\.mode' must be one of \['online', 'offline', "
    with pytest.raises(ConfigError, match=expected):
        choose_mode("cloud")
    with pytest.raises(ConfigError, match=r"'logger\.wandb\.watch' must be one of \['gradients', "):
        WandbLogger(mode="disabled", watch="weights")


@pytest.mark.slow
def test_choosing_csv_never_imports_wandb(tmp_path):
    code = ("import sys; from seqlstm.cli.builders import build_loggers; "
            "from seqlstm.cli import train; "
            "from omegaconf import OmegaConf; "
            f"build_loggers(OmegaConf.create({{'csv': {{'_target_': "
            f"'lightning.pytorch.loggers.CSVLogger', 'save_dir': '{tmp_path}'}}}})); "
            "assert 'wandb' not in sys.modules, 'wandb was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


@pytest.mark.slow
def test_csv_and_tensorboard_at_once(compose_train, small_text, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(compose_train("logger=[csv,tensorboard]", *tiny(small_text)))
    run = tmp_path / "run"
    header = (run / "csv" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"val/loss", "train/grad_norm", "train/tokens_per_s", "lr-Adam"} <= set(header)
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"tensors": 0, "images": 0})
    tags = events.Reload().Tags()
    assert "val/samples/text_summary" in tags["tensors"]
    assert "val/loss_by_position" in tags["images"]
    assert {"val/loss", "train/grad_norm", "lr-Adam"} <= set(tags["scalars"])
    # TensorBoard took the text and the figure, so nothing falls back to the run folder
    assert not (run / "samples.txt").exists() and not (run / "figures").exists()


@pytest.mark.slow
def test_wandb_multirun_gives_one_offline_run_per_trial_in_one_group(offline_wandb, small_text,
                                                                     monkeypatch):
    """`seqlstm-train -m ... logger=wandb` with no API key: three offline runs, one group, each
    holding the composed config, the metrics, the sample table, the figure and the checkpoint."""
    monkeypatch.setenv("COLUMNS", "300")  # summary lines unwrapped
    result = run_cli("train", "-m", "seed=1,2,3", "logger=wandb", "logger.wandb.tags=[test,lm]",
                     "logger.wandb.log_model=true", "logger.wandb.watch=gradients",
                     "logger.wandb.watch_log_freq=1", f"hydra.sweep.dir={offline_wandb}/sweep",
                     *tiny(small_text), cwd=offline_wandb)
    notices = [line for line in result.stderr.splitlines() if "no API key" in line]
    assert len(notices) == 3, result.stderr[-2000:]
    folders = sorted((offline_wandb / "sweep").glob("*/wandb/offline-run-*"))
    assert len(folders) == 3
    runs = [read_run(folder) for folder in folders]
    assert len({run.run_id for run in runs}) == 3
    assert {run.group for run in runs} == {"train-sweep"}
    assert sorted(run.name for run in runs) == ["train-0", "train-1", "train-2"]
    assert sorted(run.config["seed"] for run in runs) == [1, 2, 3]
    for folder, run in zip(folders, runs, strict=True):
        # the composed Hydra config is the run's config (Hydra's own section left out)
        assert run.config["model"]["encoder"]["hidden_size"] == 16
        assert run.config["data"]["seq_len"] == 16
        assert run.config["logger"]["wandb"]["tags"] == ["test", "lm"]
        assert "hydra" not in run.config
        assert run.metric("val/loss") and all(v > 0 for v in run.metric("val/loss"))
        assert run.metric("train/grad_norm") and run.metric("lr-Adam")
        assert run.metric("test/loss")
        # wandb.watch: gradient histograms
        assert "histogram" in run.metric("gradients/encoder.layers.0.rnn.weight_hh_l0/_type")
        (table,) = run.media("table/val/samples_*.table.json")
        rows = json.loads(table.read_text())
        assert rows["columns"] == ["epoch", "step", "prompt", "sample"]
        assert len(rows["data"]) == 2 and all(len(row[3]) == 20 for row in rows["data"])
        (image,) = run.media("images/val/loss_by_position_*.png")
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert ("model", f"model-{run.run_id}") in run.artifacts
        # the end summary says how to upload the offline run
        assert f"wandb sync {folder}" in result.stdout


@pytest.mark.slow
def test_wandb_forecaster_run_holds_its_forecast_figure(offline_wandb, tmp_path, monkeypatch):
    """A forecaster trained with logger=wandb offline logs its forecast-vs-truth figure."""
    from tests.helpers.timeseries_data import sine

    data = tmp_path / "sine.csv"
    sine(120).to_csv(data, index=False)
    monkeypatch.setenv("COLUMNS", "300")
    run_cli("train", "logger=wandb", "data=timeseries", f"data.path={data}", "data.targets=[y]",
            "data.time_column=t", "data.lookback=8", "data.batch_size=8",
            "model.encoder.hidden_size=16", "model.task_options.real.loss=gaussian_nll",
            "trainer.log_every_n_steps=1", f"hydra.run.dir={tmp_path / 'run'}", *FAST,
            cwd=tmp_path)
    (folder,) = (tmp_path / "run" / "wandb").glob("offline-run-*")
    run = read_run(folder)
    assert run.config["data"]["targets"] == ["y"]
    assert run.metric("val/loss") and run.metric("val/mase")
    (image,) = run.media("images/val/forecast_*.png")
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("per_parameter", [False, True])
def test_grad_norm_callback_logs_the_total_and_each_tensor(small_text, per_parameter):
    """``callbacks.grad_norm``: ``train/grad_norm`` is the 2-norm over every gradient before
    the optimiser step; ``per_parameter=true`` adds ``grad_norm/<name>`` for each tensor."""
    seen: dict[str, float] = {}

    class Probe(L.Callback):  # runs after the monitor, on the same gradients
        def on_before_optimizer_step(self, trainer, pl_module, optimizer):
            seen.clear()
            seen.update({name: float(p.grad.norm()) for name, p in pl_module.named_parameters()
                         if p.grad is not None})

    data = CharDataModule(small_text, seq_len=16, batch_size=4)
    data.setup("fit")
    torch.manual_seed(0)
    model = LanguageModel(spec=data.spec.as_dict(), encoder={"hidden_size": 8},
                          embedding_dim=4)
    trainer = quiet_trainer(max_steps=2, limit_val_batches=0, log_every_n_steps=1,
                            callbacks=[GradNormMonitor(per_parameter=per_parameter), Probe()])
    trainer.fit(model, datamodule=data)
    logged = {k: float(v) for k, v in trainer.callback_metrics.items()
              if k.startswith("grad_norm/") or k == "train/grad_norm"}
    total = float(torch.tensor(list(seen.values())).norm())
    assert logged.pop("train/grad_norm") == pytest.approx(total, rel=1e-4)
    expected = {f"grad_norm/{name}": value for name, value in seen.items()} \
        if per_parameter else {}
    assert len(seen) >= 6  # embedding, the LSTM's four tensors, the head
    assert logged.keys() == expected.keys()
    assert logged == pytest.approx(expected, rel=1e-4)


def test_grad_norm_per_parameter_is_a_config_switch(compose_train):
    from hydra.utils import instantiate

    monitor = instantiate(compose_train("callbacks.grad_norm.per_parameter=true")
                          .callbacks.grad_norm)
    assert isinstance(monitor, GradNormMonitor) and monitor.per_parameter
    assert not instantiate(compose_train().callbacks.grad_norm).per_parameter
