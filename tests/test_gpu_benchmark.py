"""``python -m benchmarks gpu --dry-run``: the GPU checks start and pass, tiny, on the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.slow
def test_gpu_benchmark_dry_run_runs_every_check_on_the_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "benchmarks", "gpu", "--dry-run", "--json", str(out)],
                   cwd=REPO_ROOT, env=env, check=True, capture_output=True, timeout=900)
    results = json.loads(out.read_text())
    assert results["dry_run"] is True and results["device"] == "cpu"
    errors = {name: entry["error"] for name, entry in results.items()
              if isinstance(entry, dict) and "error" in entry}
    assert not errors
    assert results["fused_vs_per_layer"]["max_output_gap"] < 1e-5
    precisions = results["precisions"]
    assert precisions["32-true"]["passed"] and precisions["bf16-mixed"]["passed"]
    assert precisions["16-mixed"] == {"skipped": "fp16 mixed precision needs CUDA"}
    assert results["packed_vs_padded"]["passed"]
    assert results["predictor_latency"]["median_ms"] > 0
    versus = results["versus_hand_written"]
    assert versus["char_lm"]["seqlstm_over_torch"] > 0
    assert versus["forecast"]["seqlstm_over_torch"] > 0
    speech = results["speech_features"]
    assert speech["passed"] and speech["max_gap_db"] == 0.0  # the CPU twice: the same numbers
    assert speech["cpu_ms"] > 0 and speech["device_ms"] > 0


def test_gpu_benchmark_without_a_gpu_says_so():
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, "-m", "benchmarks", "gpu"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "error: no CUDA device here; `python -m benchmarks gpu --dry-run`" in result.stderr
