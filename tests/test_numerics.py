"""NaN/Inf in a batch: reported with its step, stopped or skipped by policy, checkpoints safe."""

from __future__ import annotations

import pytest
import torch

from seqlstm.callbacks import NumericsGuard
from seqlstm.cli.train import train
from seqlstm.errors import ConfigError, NumericalError
from seqlstm.tasks import read_checkpoint
from tests.helpers.reliability import compose_in, tiny_run

NAN_AT_STEP_5 = ["model._target_=tests.helpers.faults.NanAtStep", "+model.nan_step=5"]


@pytest.mark.slow
def test_nan_stops_at_its_step_and_leaves_the_checkpoint_intact(compose_train, small_text,
                                                                 tmp_path):
    run_dir = tmp_path / "run"
    cfg = compose_in(compose_train, run_dir, *tiny_run(small_text), *NAN_AT_STEP_5)
    with pytest.raises(NumericalError, match=r"^non-finite loss nan at global step 5 \(epoch 0, "
                                             r"batch 5\); stopped before the optimiser step "
                                             r"\(callbacks.numerics.policy=stop"):
        train(cfg)
    last = run_dir / "checkpoints" / "last.ckpt"
    checkpoint = read_checkpoint(last)  # written at step 4, untouched since
    assert checkpoint["global_step"] == 4
    assert all(torch.isfinite(t).all() for t in checkpoint["state_dict"].values())
    assert not list(run_dir.rglob("*.tmp"))


@pytest.mark.slow
def test_nan_is_skipped_counted_and_bounded(compose_train, small_text, tmp_path):
    cfg = compose_in(compose_train, tmp_path / "skip", *tiny_run(small_text), *NAN_AT_STEP_5,
                     "callbacks.numerics.policy=skip")
    metrics = train(cfg)
    assert metrics["train/skipped_steps"] == 1.0
    checkpoint = read_checkpoint(tmp_path / "skip" / "checkpoints" / "last.ckpt")
    assert checkpoint["global_step"] == 12
    assert all(torch.isfinite(t).all() for t in checkpoint["state_dict"].values())

    cfg = compose_in(compose_train, tmp_path / "bounded", *tiny_run(small_text), *NAN_AT_STEP_5,
                     "callbacks.numerics.policy=skip", "callbacks.numerics.max_skips=0")
    with pytest.raises(NumericalError, match=r"global step 5 \(epoch 0, batch 5\): 1 steps "
                                             r"skipped .* more than "
                                             r"callbacks.numerics.max_skips=0"):
        train(cfg)


def test_skipped_step_leaves_every_parameter_unchanged():
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()  # Adam now has momentum: a zero gradient would still move the weights
    before = [p.detach().clone() for p in model.parameters()]
    (model(torch.ones(1, 3)).sum() * float("nan")).backward()

    guard = NumericsGuard(policy="skip")

    class Stub:
        global_step, current_epoch = 7, 0

    class Module:
        def parameters(self):
            return model.parameters()

        def log(self, *args, **kwargs):
            pass

    guard.on_train_batch_start(Stub(), Module(), None, 3)
    guard.on_before_optimizer_step(Stub(), Module(), optimizer)
    optimizer.step()
    assert guard.skipped == 1
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_policy_is_checked():
    with pytest.raises(ConfigError, match=r"'policy' must be one of \['stop', 'skip'\], got "
                                          r"'ignore'"):
        NumericsGuard(policy="ignore")
