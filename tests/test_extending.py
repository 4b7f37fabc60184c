"""The extending guide's three examples (examples/*.py), wired by ``_target_`` through the CLI."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from seqlstm.cli.evaluate import evaluate
from seqlstm.nn.encoder import EncoderConfig
from tests.conftest import REPO_ROOT, run_cli

EXAMPLES = REPO_ROOT / "examples"


@pytest.fixture
def examples_importable(monkeypatch):
    """``examples/`` on the path of this process and of the CLI processes it starts."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("PYTHONPATH", str(EXAMPLES))


def test_residual_encoder_adds_each_upper_layers_input(examples_importable):
    from residual_lstm import ResidualEncoder

    torch.manual_seed(0)
    encoder = ResidualEncoder(4, EncoderConfig(hidden_size=6, num_layers=3)).eval()
    x = torch.randn(2, 5, 4)
    out, (h, c) = encoder(x)
    first, _ = encoder.layers[0](x, None, None)
    second, _ = encoder.layers[1](first, None, None)
    third, _ = encoder.layers[2](first + second, None, None)
    torch.testing.assert_close(out, first + second + third)
    assert h.shape == c.shape == (3, 2, 6)


def test_typo_data_corrupts_training_inputs_only(examples_importable, small_text):
    from typo_data import TypoCharDataModule

    data = TypoCharDataModule(small_text, seq_len=64, batch_size=32, typo_rate=0.25)
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    shifted = batch["inputs"][:, 1:] != batch["targets"][:, :-1]  # input t+1 is target t
    assert 0.2 < shifted.float().mean() < 0.3
    val = next(iter(data.val_dataloader()))
    scored = val["targets"][:, :-1] != -100  # covering windows skip targets already scored
    assert torch.equal(val["inputs"][:, 1:][scored], val["targets"][:, :-1][scored])


@pytest.mark.slow
def test_examples_train_through_the_cli_and_their_checkpoints_evaluate(
        examples_importable, small_text, tmp_path):
    run_cli("train", "-m", "model=stacked_lstm", "model.encoder.hidden_size=16",
            "model._target_=residual_lstm.ResidualLanguageModel,mlp_head.MLPHeadLanguageModel",
            "data._target_=typo_data.TypoCharDataModule", "+data.typo_rate=0.05",
            f"data.path={small_text}", "data.seq_len=16", "data.batch_size=8", "quiet=true",
            "trainer.max_epochs=1", "+trainer.limit_train_batches=3",
            "+trainer.limit_val_batches=2", "+trainer.limit_test_batches=2",
            f"hydra.sweep.dir={tmp_path}/sweep", cwd=tmp_path)
    for job, name in enumerate(["ResidualLanguageModel", "MLPHeadLanguageModel"]):
        (ckpt,) = (tmp_path / "sweep" / str(job) / "checkpoints").glob("epoch*.ckpt")
        checkpoint = torch.load(ckpt, weights_only=True)
        assert checkpoint["seqlstm_task"].endswith(name)
        data = checkpoint["hyper_parameters"]["data"]
        assert data["_target_"] == "typo_data.TypoCharDataModule" and data["typo_rate"] == 0.05
        cfg = OmegaConf.create({"ckpt_path": str(ckpt), "split": "val", "data_path": None,
                                "batch_size": None,
                                "trainer": {"accelerator": "cpu", "devices": 1}})
        assert evaluate(cfg)["val/loss"] > 0
