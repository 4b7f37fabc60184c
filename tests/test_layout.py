"""The house rules of the package layout: layers import downwards, imports stay light, modules
stay small, and the public names of each package keep working."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch

from seqlstm.data import CharDataModule
from seqlstm.nn import EncoderConfig, RecurrentEncoder
from seqlstm.tasks import LanguageModel, build_task

PACKAGE = Path(__file__).resolve().parents[1] / "seqlstm"
MAX_LINES = 350


def test_tasks_and_nn_never_import_data():
    offenders = [f"{path.relative_to(PACKAGE)}:{number}"
                 for layer in ("tasks", "nn") for path in (PACKAGE / layer).rglob("*.py")
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if re.search(r"\bseqlstm\.data\b", line)]
    assert offenders == []


@pytest.mark.slow
def test_imports_stay_light():
    checks = {"seqlstm.nn": ("lightning", "pandas"), "seqlstm.tasks": ("pandas",),
              "seqlstm.spec": ("lightning", "pandas"), "seqlstm.data": ("lightning", "pandas"),
              "seqlstm.cli.scripts": ("torch", "lightning")}
    for module, absent in checks.items():
        code = (f"import sys, {module}; loaded = [m for m in {absent!r} if m in sys.modules]; "
                "assert not loaded, loaded")
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert result.returncode == 0, f"import {module}: {result.stderr.strip()}"


def test_no_module_is_over_the_size_limit():
    sizes = {str(path.relative_to(PACKAGE)): len(path.read_text().splitlines())
             for path in PACKAGE.rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_data_holds_subpackages_by_family():
    families = {path.name for path in (PACKAGE / "data").iterdir()
                if (path / "__init__.py").is_file()}
    assert {"text", "series", "sequences"} <= families


class CountingEncoder(RecurrentEncoder):
    """A user's encoder subclass written against ``seqlstm.nn.RecurrentEncoder``."""

    calls = 0

    def forward(self, inputs, state=None, lengths=None):
        CountingEncoder.calls += 1
        return super().forward(inputs, state, lengths)


class CountingLM(LanguageModel):
    """A user's task subclass written against ``seqlstm.tasks.LanguageModel``."""

    def build_encoder(self, input_size: int, config: EncoderConfig) -> RecurrentEncoder:
        return CountingEncoder(input_size, config)


class UpperCaseData(CharDataModule):
    """A user's data subclass written against ``seqlstm.data.CharDataModule``."""


def test_subclasses_of_the_old_public_names_still_train(small_text):
    torch.manual_seed(0)
    data = UpperCaseData(str(small_text), seq_len=8, batch_size=4)
    data.setup("fit")
    model = build_task({"_target_": f"{__name__}.CountingLM", "encoder": {"hidden_size": 8}},
                       data.spec)
    assert isinstance(model, CountingLM) and isinstance(model.encoder, CountingEncoder)
    trainer = L.Trainer(accelerator="cpu", max_steps=2, logger=False, limit_val_batches=1,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.fit(model, datamodule=data)
    assert trainer.global_step == 2 and CountingEncoder.calls >= 3  # 2 train + validation
