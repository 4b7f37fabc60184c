"""Checkpoints record a format version: the golden checkpoints of each task (tests/golden/,
written by ``python -m tests.golden.make_golden``) load with their weights, an unversioned
(version 0) checkpoint is migrated, and a future or unknown version is refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from seqlstm.errors import CheckpointError
from seqlstm.tasks import load_task, read_checkpoint
from seqlstm.tasks.versions import FORMAT_KEY, FORMAT_VERSION, SUPPORTED
from tests.golden.make_golden import GOLDEN, outputs

RELEASES = sorted(GOLDEN.glob("expected_v*.json"))
CASES = [(path, name) for path in RELEASES for name in json.loads(path.read_text())["tasks"]]


@pytest.mark.parametrize(("expected", "name"), CASES,
                         ids=[f"{path.stem}-{name}" for path, name in CASES])
def test_golden_checkpoint_loads_with_its_weights(expected: Path, name: str):
    record = json.loads(expected.read_text())
    path = GOLDEN / f"{name}_v{record['format_version']}.ckpt"
    task = load_task(path)
    assert type(task).__name__ == record["tasks"][name]["class"]
    assert torch.allclose(torch.tensor(outputs(task)),
                          torch.tensor(record["tasks"][name]["outputs"]), atol=1e-6)


def test_every_task_has_a_golden_checkpoint_of_this_format():
    assert {name for path, name in CASES if path.stem == f"expected_v{FORMAT_VERSION}"} == \
        {"language_model", "forecaster", "classifier", "tagger"}


def _rewritten(tmp_path: Path, version) -> Path:
    checkpoint = torch.load(GOLDEN / f"classifier_v{FORMAT_VERSION}.ckpt", weights_only=True)
    assert checkpoint[FORMAT_KEY] == FORMAT_VERSION
    if version is None:
        del checkpoint[FORMAT_KEY]
    else:
        checkpoint[FORMAT_KEY] = version
    path = tmp_path / "old.ckpt"
    torch.save(checkpoint, path)
    return path


def test_unversioned_checkpoint_is_migrated(tmp_path):
    assert read_checkpoint(_rewritten(tmp_path, None))[FORMAT_KEY] == FORMAT_VERSION


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, -1, "1"])
def test_unknown_format_version_is_refused_by_name(tmp_path, version):
    path = _rewritten(tmp_path, version)
    supported = ", ".join(map(str, SUPPORTED))
    newer = "; it was written by a newer seqlstm: upgrade seqlstm to read it" \
        if version == FORMAT_VERSION + 1 else ""
    with pytest.raises(CheckpointError) as error:
        load_task(path)
    assert str(error.value) == (f"{path}: checkpoint format version {version!r} is not "
                                f"supported (this seqlstm reads versions {supported}){newer}")


def test_an_unversioned_direct_forecaster_gets_its_head_renamed(tmp_path):
    """Version 0 kept a direct forecaster's head as a bare nn.Linear (``head.weight``)."""
    path = GOLDEN / f"forecaster_v{FORMAT_VERSION}.ckpt"
    checkpoint = torch.load(path, weights_only=True)
    del checkpoint[FORMAT_KEY]
    state = checkpoint["state_dict"]
    for name in ("weight", "bias"):
        state[f"head.{name}"] = state.pop(f"head.proj.{name}")
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)
    task, current = load_task(old), load_task(path)
    assert torch.equal(task.head.proj.weight, current.head.proj.weight)
