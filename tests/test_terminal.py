"""Terminal output: the start banner, the end summary, throughput on the bar, quiet mode."""

from __future__ import annotations

import logging
import re

import pytest
import torch
from lightning.pytorch.callbacks import RichProgressBar
from rich.console import Console

from seqlstm.cli.train import train
from seqlstm.tracking.callbacks import batch_items
from seqlstm.tracking.progress import ThroughputProgressBar
from seqlstm.tracking.terminal import (
    CHATTY_LOGGERS,
    config_tree,
    metrics_table,
    run_config,
    short,
    summary_line,
)
from tests.helpers.runs import tiny


def render(renderable, width: int = 100) -> str:
    console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def test_short_puts_a_config_value_on_one_line():
    assert short({"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.002}) == \
        "Adam(lr=0.002)"
    assert short({"a": [1, 2], "b": None}) == "{a=[1, 2], b=None}"


def test_config_tree_fits_one_screen_and_names_the_choices(compose_train):
    config = run_config(compose_train("logger=[csv,tensorboard]"))
    text = render(config_tree(config, "next_token"))
    lines = text.splitlines()
    assert len(lines) <= 30
    assert "tie_weights=False" in text and "pooling=" not in text  # the options in use only
    assert lines[0] == "config"
    assert "├── model (lstm)  SequenceTask" in text
    assert "cell=lstm  hidden_size=256  num_layers=1" in text
    assert "optimizer=Adam(lr=0.002)" in text
    assert "├── data (pystdlib)  CharDataModule" in text
    assert "path=python_stdlib_files(max_bytes=2000000)" in text
    assert "├── logger: csv, tensorboard" in text
    assert "scheduler=None" in text
    assert "callbacks (default): model_checkpoint, early_stopping, lr_monitor" in text
    assert "hydra" not in text and "default_root_dir" not in text


def test_metrics_table_has_a_row_per_metric_and_a_column_per_stage():
    metrics = {"train/loss_epoch": 1.5, "train/loss_step": 9.0, "val/loss": 1.25, "val/ppl": 3.5,
               "test/loss": 1.125, "train/tokens_per_s": 1e4, "lr-Adam": 0.002}
    lines = [line.split() for line in render(metrics_table(metrics)).splitlines()]
    assert lines == [["metric", "train", "val", "test"], ["loss", "1.5000", "1.2500", "1.1250"],
                     ["ppl", "3.5000"]]


def test_summary_line():
    metrics = {"val/loss": 1.23456, "test/loss": 2.0, "val/ppl": 3.0}
    assert summary_line(metrics, "/x/best.ckpt", ["val/loss", "test/loss"]) == \
        "val/loss=1.2346 test/loss=2.0000 best=/x/best.ckpt"
    assert summary_line(metrics, "", ["val/bpc"]) == "best=-"


def test_progress_bar_shows_throughput_as_a_rounded_rate(monkeypatch):
    monkeypatch.setattr(RichProgressBar, "get_metrics", lambda self, trainer, module: {
        "v_num": 0, "val/loss": 1.5, "train/tokens_per_s": 12345.6})
    shown = ThroughputProgressBar().get_metrics(None, None)
    assert shown == {"val/loss": 1.5, "tokens/s": "12,346"}


def test_throughput_counts_tokens_or_windows():
    assert batch_items({"inputs": torch.zeros(8, 16, dtype=torch.long)}) == (128, "tokens")
    assert batch_items({"inputs": torch.zeros(8, 16, 3)}) == (8, "windows")


@pytest.mark.slow
def test_banner_and_summary_tell_config_device_parameters_checkpoint_and_logs(
        compose_train, small_text, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    metrics = train(compose_train("logger=csv", *tiny(small_text)))
    out = capsys.readouterr().out
    run = tmp_path / "run"
    params = re.search(r"model\s+LanguageModel: ([\d,]+) parameters", out)
    assert params, out
    assert "config" in out and re.search(rf"output\s+{run}", out)
    assert re.search(r"device\s+cpu x1", out)
    assert re.search(r"runtime\s+allocator glibc", out)
    assert re.search(rf"best checkpoint\s+{run}/checkpoints/epoch000-step000003.ckpt", out)
    assert re.search(rf"csv\s+{run}/csv/metrics.csv", out)
    assert re.search(rf"samples\s+{run}/samples.txt", out)
    assert re.search(rf"loss\s+[\d.]+\s+{metrics['val/loss']:.4f}\s+{metrics['test/loss']:.4f}",
                     out)
    assert "sample" in out


@pytest.mark.slow
def test_quiet_mode_prints_only_the_summary_line(compose_train, small_text, tmp_path, capfd):
    levels = {name: logging.getLogger(name).level for name in CHATTY_LOGGERS}
    try:
        train(compose_train("quiet=true", *tiny(small_text)))
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    lines = capfd.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    assert re.fullmatch(rf"val/loss=\d+\.\d{{4}} test/loss=\d+\.\d{{4}} "
                        rf"best={tmp_path}/run/checkpoints/epoch000-step000003\.ckpt", lines[0])
