"""The console scripts end to end: train, eval, generate, extension and bad input."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import torch

from tests.conftest import FAST_WITH_CALLBACKS, run_cli

pytestmark = pytest.mark.slow

TINY = ["model.encoder.hidden_size=32", "data.seq_len=32", "data.batch_size=8"]


def train_small(tmp_path: Path, small_text: Path, *extra: str,
                extra_path: Path | None = None) -> Path:
    """Train on ``small_text`` from ``tmp_path``; return the run folder."""
    run_cli("train", "data=char", f"data.path={small_text}", *TINY, *FAST_WITH_CALLBACKS,
            *extra, cwd=tmp_path, extra_path=extra_path)
    (run,) = (tmp_path / "logs" / "train" / "runs").iterdir()
    return run


def test_train_eval_generate_from_another_folder(tmp_path, small_text):
    run = train_small(tmp_path, small_text)
    assert (run / ".hydra" / "config.yaml").is_file()
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert (run / "csv" / "metrics.csv").read_text().startswith("epoch,")
    best = next(p for p in (run / "checkpoints").glob("epoch*.ckpt"))

    evaluated = run_cli("evaluate", f"ckpt_path={best}", "split=val", cwd=tmp_path)
    values = dict(line.split("\t") for line in evaluated.stdout.splitlines() if "\t" in line)
    assert float(values["val/ppl"]) > 1 and float(values["val/bpc"]) > 0

    out = tmp_path / "sample.txt"
    generated = run_cli("generate", f"ckpt_path={best}", "prompt=the", "length=40",
                        "num_samples=2", f"output={out}", cwd=tmp_path)
    text = out.read_text()
    assert text.startswith("--- sample 1 ---\nthe") and "\n--- sample 2 ---\nthe" in text
    assert len(text) == 2 * len("--- sample 1 ---\n") + 2 * (3 + 40) + 2
    assert generated.stdout.strip() == out.read_text().strip()


def test_train_prints_metrics_and_a_sample(tmp_path, small_text):
    result = run_cli("train", "data=char", f"data.path={small_text}", *TINY,
                     *FAST_WITH_CALLBACKS, "sample.length=50", "sample.prompt=the", cwd=tmp_path)
    log = result.stdout + result.stderr
    assert "best checkpoint" in log and "─ sample " in log
    assert re.search(r"loss +\d+\.\d+ +\d+\.\d+ +\d+\.\d+", log)  # train, val and test


def test_help_lists_the_config_groups(tmp_path):
    help_text = run_cli("train", "--help", cwd=tmp_path).stdout
    for group in ("model:", "data:", "trainer:", "logger:", "callbacks:", "experiment:",
                  "debug:", "stacked_lstm", "tinyshakespeare"):
        assert group in help_text


def test_subclass_outside_the_package_trains_through_target(tmp_path, small_text):
    plugin = tmp_path / "my_models.py"
    plugin.write_text(textwrap.dedent("""
        from seqlstm.tasks import LanguageModel

        class DoubleLossLM(LanguageModel):
            def loss(self, outputs, batch):
                return 2 * super().loss(outputs, batch)
    """))
    run = train_small(tmp_path, small_text, "model._target_=my_models.DoubleLossLM",
                      extra_path=tmp_path)
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["seqlstm_task"] == "my_models.DoubleLossLM"


BAD_INPUTS = [
    (["data.path=/no/such/file.txt"], "data.path: no such file or folder: /no/such/file.txt"),
    (["model.encoder.hidden_size=0"],
     "config key 'model.encoder.hidden_size' must be an integer >= 1, got 0"),
    (["model.encoder.output_dropout=1.0"],
     "config key 'model.encoder.output_dropout' must be a number in [0, 1), got 1.0"),
    (["model.encoder.dropout=0.5"], "config key 'model.encoder.dropout' must be 0 with "
     "num_layers=1"),
    (["model.encoder.hiden_size=8"], "error: seqlstm-train has no config key "
     "'model.encoder.hiden_size'; did you mean 'model.encoder.hidden_size'?"),
    (["model=lsmt"], "error: seqlstm-train has no model option 'lsmt'; did you mean 'lstm'?"),
    (["model._target_=os.system"],
     "config key 'model._target_' must be an importable subclass of seqlstm.tasks.base."
     "SequenceTask, got 'os.system'"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_INPUTS)
def test_bad_input_gets_one_clear_line_and_no_checkpoint(tmp_path, small_text, overrides,
                                                         message):
    result = run_cli("train", "data=char", f"data.path={small_text}", *TINY,
                     *FAST_WITH_CALLBACKS, *overrides, cwd=tmp_path, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.rglob("*.ckpt"))


def test_bad_file_contents_exit_2_naming_the_file(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9\n".encode("latin-1") * 100)
    result = run_cli("train", "data=char", f"data.path={bad}", *TINY, *FAST_WITH_CALLBACKS,
                     cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {bad}:1:4: not UTF-8 (byte 0xe9 at offset 3); re-encode the file as UTF-8")


def test_generate_refuses_a_missing_checkpoint(tmp_path):
    result = run_cli("generate", f"ckpt_path={tmp_path}/nope.ckpt", cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert f"ckpt_path: no such checkpoint file: {tmp_path}/nope.ckpt" in result.stderr
