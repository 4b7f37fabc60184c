"""Untrusted files: a checkpoint carrying a pickle payload is refused by every command without
running it; class names inside checkpoints resolve only to allowed base classes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqlstm.checkpoint_io import SafeCheckpointIO
from seqlstm.cli.evaluate import evaluate
from seqlstm.cli.generate import generate
from seqlstm.cli.predict import predict
from seqlstm.cli.train import train
from seqlstm.errors import CheckpointError
from seqlstm.tasks import load_task, read_checkpoint
from tests.conftest import run_cli
from tests.helpers.faults import write_malicious
from tests.helpers.reliability import compose_in, tiny_run, trained

__all__ = ["trained"]  # the fixture, imported for pytest
REFUSED = r"refused to load: the file holds objects that are not plain data"


@pytest.fixture
def malicious(trained: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A real checkpoint with a payload added, and the marker the payload would create."""
    marker = tmp_path / "payload-ran"
    return write_malicious(trained, tmp_path / "evil.ckpt", marker), marker


def test_the_payload_is_live(malicious):
    path, marker = malicious
    torch.load(path, weights_only=False)  # what a careless loader would do
    assert marker.is_dir()


@pytest.mark.slow
def test_every_command_refuses_the_payload(malicious, compose_train, small_text, tmp_path):
    path, marker = malicious
    resume = compose_in(compose_train, tmp_path / "resume", *tiny_run(small_text),
                        f"ckpt_path={path}")
    commands = {
        "train (resume)": lambda: train(resume),
        "eval": lambda: evaluate(compose_train(f"ckpt_path={path}", config_name="eval")),
        "generate": lambda: generate(compose_train(f"ckpt_path={path}", config_name="generate")),
        "predict": lambda: predict(compose_train(f"ckpt_path={path}", f"data_path={small_text}",
                                                 config_name="predict")),
        "load_task": lambda: load_task(path),
        "Lightning's loader (trainer.fit/test ckpt_path)":
            lambda: SafeCheckpointIO().load_checkpoint(path, weights_only=False),
    }
    for name, command in commands.items():
        with pytest.raises(CheckpointError, match=REFUSED):
            command()
        assert not marker.exists(), name
    assert not list((tmp_path / "resume").rglob("*.ckpt"))


@pytest.mark.slow
def test_the_cli_reports_the_refusal_in_one_line(malicious, tmp_path):
    path, marker = malicious
    result = run_cli("generate", f"ckpt_path={path}", f"hydra.run.dir={tmp_path / 'gen'}",
                     cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {path}: refused to load")
    assert not marker.exists()


def test_a_hostile_task_name_is_not_imported_as_a_task(trained, tmp_path):
    checkpoint = torch.load(trained, weights_only=True)
    checkpoint["seqlstm_task"] = "os.system"
    path = tmp_path / "hostile.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match=r"hostile.ckpt: config key 'seqlstm_task' must be "
                                              r"an importable subclass of "
                                              r"seqlstm.tasks.base.SequenceTask, got 'os.system'"):
        load_task(path)


def test_checkpoints_hold_plain_data_only(trained):
    checkpoint = read_checkpoint(trained)  # weights_only=True
    assert checkpoint["hyper_parameters"]["spec"]["vocab"][0] == "\ufffd"
    datamodule_state = checkpoint["CharDataModule"]
    assert set(datamodule_state) == {"sampler_seed", "epoch", "batches", "world_size"}
    assert isinstance(checkpoint["datamodule_hyper_parameters"]["path"], str)
    assert isinstance(checkpoint["callbacks"], dict)
