"""The process set-up: allocator tuning, the OpenMP wait policy, the runtime config."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from seqlstm import runtime
from seqlstm.errors import ConfigError
from tests.conftest import REPO_ROOT, run_cli
from tests.helpers.reliability import assert_same_tensors, final_state, tiny_run

LINUX_GLIBC = sys.platform.startswith("linux") and runtime._glibc() is not None


def child(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter (mallopt cannot be undone) and return its stdout."""
    environ = {k: v for k, v in os.environ.items() if k != runtime.ENV_ALLOCATOR}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**environ, "PYTHONPATH": str(REPO_ROOT), **env}, check=True)
    return result.stdout.strip()


@pytest.mark.skipif(not LINUX_GLIBC, reason="mallopt needs Linux with glibc")
def test_tuned_allocator_is_set_by_mallopt_and_passed_to_children():
    out = child("from seqlstm import runtime; print(runtime.allocator_in_use()); "
                "print(runtime.tune_allocator('tuned')); "
                "import os; print(os.environ['SEQLSTM_ALLOCATOR'])").splitlines()
    assert out == ["glibc defaults", runtime.TUNED, "tuned"]
    # a child (DDP rank, spawned worker) applies its parent's choice on `import seqlstm`
    assert child("import seqlstm; print(seqlstm.runtime.allocator_in_use())",
                 SEQLSTM_ALLOCATOR="tuned") == runtime.TUNED
    assert child("import seqlstm; print(seqlstm.runtime.allocator_in_use())",
                 SEQLSTM_ALLOCATOR="default") == "glibc defaults"


def test_a_preloaded_allocator_is_reported_and_left_alone(tmp_path):
    maps = tmp_path / "maps"
    maps.write_text("7f00-7f10 r-xp 0 08:01 1 /usr/lib/x86_64-linux-gnu/libjemalloc.so.2\n")
    assert runtime.preloaded_allocator(str(maps)) == "jemalloc"
    maps.write_text("7f00-7f10 r-xp 0 08:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6\n")
    assert runtime.preloaded_allocator(str(maps)) is None
    assert runtime.preloaded_allocator(str(tmp_path / "absent")) is None


def test_elsewhere_than_linux_tuning_is_a_logged_no_op(monkeypatch, caplog):
    monkeypatch.setattr(runtime.sys, "platform", "darwin")
    monkeypatch.setattr(runtime, "preloaded_allocator", lambda: None)
    monkeypatch.setattr(runtime, "_in_use", "the platform's default")
    monkeypatch.setenv(runtime.ENV_ALLOCATOR, "default")  # undone after the test
    with caplog.at_level(logging.DEBUG, logger="seqlstm.runtime"):
        assert runtime.tune_allocator("tuned") == "the platform's default"
    assert "mallopt needs Linux with glibc (darwin)" in caplog.text


def test_openmp_spins_briefly_by_default_and_keeps_the_users_choice():
    env: dict[str, str] = {}
    runtime.prepare_process(env)
    assert env == {"GOMP_SPINCOUNT": "1000"}
    for named in ({"OMP_WAIT_POLICY": "PASSIVE"}, {"OMP_WAIT_POLICY": "ACTIVE"},
                  {"GOMP_SPINCOUNT": "0"}):
        env = dict(named)
        runtime.prepare_process(env)
        assert env == named
    env = {"OMP_WAIT_POLICY": ""}  # empty: OpenMP's own default
    runtime.prepare_process(env)
    assert env == {}
    assert runtime.openmp_environment() == {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": "1000"}


def test_console_scripts_set_the_spin_count_before_torch_loads():
    code = ("import sys, seqlstm.cli, os; print('torch' in sys.modules, "
            "os.environ['GOMP_SPINCOUNT'], os.environ.get('OMP_WAIT_POLICY'))")
    environ = {k: v for k, v in os.environ.items()
               if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**environ, "PYTHONPATH": str(REPO_ROOT)}, check=True).stdout
    assert out.split() == ["False", "1000", "None"]


@pytest.mark.parametrize(("settings", "key"), [
    ({"allocator": "fast"}, "runtime.allocator"),
    ({"allocator": "tuned", "threads": 0}, "runtime.threads"),
    ({"allocator": "tuned", "threads": True}, "runtime.threads"),
    ({"allocater": "tuned"}, "runtime.allocater"),
])
def test_bad_runtime_settings_name_their_key(settings, key):
    with pytest.raises(ConfigError, match=rf"config key '{key}'"):
        runtime.apply(settings)


def test_runtime_config_is_composed_for_every_console_script(compose_train):
    for name in ("train", "eval", "generate", "predict", "export"):
        kwargs = {} if name == "train" else {"config_name": name}
        assert dict(compose_train(**kwargs).runtime) == {"allocator": "tuned", "threads": None}


@pytest.mark.slow
@pytest.mark.skipif(not LINUX_GLIBC, reason="mallopt needs Linux with glibc")
def test_deterministic_runs_are_bitwise_equal_with_either_allocator(small_text, tmp_path,
                                                                    monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # the banner on one line per fact
    for name in (runtime.ENV_ALLOCATOR, runtime.WAIT_POLICY, runtime.SPIN_COUNT):
        monkeypatch.delenv(name, raising=False)  # no inherited choice
    runs = {}
    for mode in ("default", "tuned"):
        run = tmp_path / mode
        result = run_cli("train", *tiny_run(small_text), f"runtime.allocator={mode}",
                         f"hydra.run.dir={run}", cwd=tmp_path)
        label = runtime.TUNED if mode == "tuned" else "glibc defaults"
        assert f"runtime  allocator {label}; OpenMP wait GOMP_SPINCOUNT 1000" in result.stdout
        runs[mode] = final_state(run)
    assert_same_tensors(runs["default"]["state_dict"], runs["tuned"]["state_dict"])
    assert_same_tensors(runs["default"]["optimizer"], runs["tuned"]["optimizer"])


def test_intra_op_threads_lowers_the_count_inside_and_restores_it_after():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with runtime.intra_op_threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with runtime.intra_op_threads(4), runtime.intra_op_threads(None):  # never raised
            assert torch.get_num_threads() == 2
        with pytest.raises(ValueError), runtime.intra_op_threads(1):
            raise ValueError
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_gc_paused_collects_nothing_inside_and_restores_the_collector():
    import gc

    collections: list[int] = []

    def count(phase: str, info: dict) -> None:
        if phase == "start":
            collections.append(info["generation"])

    threshold = gc.get_threshold()
    gc.set_threshold(100)  # a young collection every 100 new containers
    gc.callbacks.append(count)
    try:
        gc.collect()  # the young count starts from zero
        before = len(collections)
        with runtime.gc_paused():
            inside = gc.isenabled()
            kept = [[i] for i in range(1000)]
            during = len(collections) - before
        after = gc.isenabled()
        kept += [[i] for i in range(1000)]
    finally:
        gc.callbacks.remove(count)
        gc.set_threshold(*threshold)
    assert (inside, during, after) == (False, 0, True)
    assert len(collections) >= 5 and len(kept) == 2000  # collections resume after the block


def test_per_series_lists_are_built_with_the_collector_paused():
    """``as_extra`` and ``as_dict`` build a list per series; with the collector on, 100,000
    series made a full collection of every object in the process (0.25 s of a 1.2 s set-up
    and 0.5 s of building the model, docs/benchmarks.md)."""
    import gc

    import numpy as np

    from seqlstm.spec import DataSpec, SeriesScaler

    seen: list[bool] = []

    class Spy(np.ndarray):
        def tolist(self):
            seen.append(gc.isenabled())
            return super().tolist()

    class SpyList(list):
        def __init__(self, items=()):
            seen.append(gc.isenabled())
            super().__init__(items)

    scaler = SeriesScaler(np.zeros((3, 2)), np.ones((3, 2)))
    scaler.mean = scaler.mean.view(Spy)
    extra = scaler.as_extra()
    spec = DataSpec(input_kind="real", target_kind="real", input_size=2, output_size=1,
                    extra={**extra, "series": SpyList(extra["series"])})
    assert seen == [False, True]  # as_extra's tolist, then the spy list made here
    spec.as_dict()
    assert seen[2:] == [False] and gc.isenabled()  # as_dict copied the spy list
