"""``trainer=deterministic``: two CPU runs give bitwise-equal weights and metrics."""

from __future__ import annotations

import pytest

from seqlstm.cli.train import train
from seqlstm.data.streams import ResumableRandomSampler
from tests.helpers.reliability import assert_same_tensors, compose_in, final_state, tiny_run


@pytest.mark.slow
def test_two_deterministic_runs_are_bitwise_equal(compose_train, small_text, tmp_path):
    runs = [tmp_path / "first", tmp_path / "second"]
    metrics = [train(compose_in(compose_train, run, *tiny_run(small_text))) for run in runs]
    timed = [{k: v for k, v in m.items() if not k.endswith("_per_s")} for m in metrics]
    assert timed[0] == timed[1]  # everything but the throughput, which is wall-clock
    first, second = (final_state(run) for run in runs)
    assert_same_tensors(first["state_dict"], second["state_dict"])
    assert_same_tensors(first["optimizer"], second["optimizer"])


def test_sampler_replays_an_epoch_and_resumes_part_way():
    sampler = ResumableRandomSampler(num_items=1000, num_samples=40, seed=3)
    sampler.set_epoch(2)
    epoch_two = list(sampler)
    assert list(sampler) == epoch_two  # the order depends on (seed, epoch) only
    sampler.set_epoch(1)
    assert list(sampler) != epoch_two
    resumed = ResumableRandomSampler(num_items=1000, num_samples=40, seed=3)
    resumed.resume(epoch=2, skip=24)
    resumed.set_epoch(2)
    assert list(resumed) == epoch_two[24:]
    assert list(resumed) == epoch_two  # skipping applies to the resumed pass only
    assert len(resumed) == 40
