"""Helpers every runner shares. Standard library only: runners run inside the peers' venvs."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import time
from typing import Any

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "TF_NUM_INTRAOP_THREADS")


def thread_env(threads: int) -> dict[str, str]:
    """Environment variables that cap every math library at ``threads`` (set before import)."""
    return {**{name: str(threads) for name in THREAD_VARIABLES}, "TF_NUM_INTEROP_THREADS": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}


def set_torch_threads(threads: int) -> None:
    """Intra-op threads = ``threads``, one inter-op thread: no oversubscription of the cores."""
    import torch

    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # already set by a library that ran first
        torch.set_num_interop_threads(1)


def import_keras(threads: int, seed: int) -> Any:
    """Keras 3 on the backend ``KERAS_BACKEND`` names, its math capped at ``threads`` intra-op
    threads and one inter-op thread, seeded with ``seed``."""
    backend = os.environ["KERAS_BACKEND"]
    if backend == "torch":
        set_torch_threads(threads)
    import keras

    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.set_random_seed(seed)
    return keras


def apply_runtime() -> str | None:
    """The allocator set-up the driver asked for in ``SEQLSTM_ALLOCATOR`` (seqlstm's own
    ``tune_allocator``, applied by ``import seqlstm``), so that a hand-written loop can be
    measured with seqlstm's set-up; None when not asked (or seqlstm is not importable)."""
    if not os.environ.get("SEQLSTM_ALLOCATOR"):
        return None
    import seqlstm

    return seqlstm.runtime.allocator_in_use()


def usage() -> dict[str, float]:
    """This process's CPU times and minor page faults so far (``resource.getrusage``)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return {"user_s": r.ru_utime, "sys_s": r.ru_stime, "minflt": float(r.ru_minflt)}


def usage_between(start: dict[str, float], end: dict[str, float]) -> dict[str, float]:
    """What :func:`usage` grew by from ``start`` to ``end``, with the system share of the CPU
    time (``sys_share``: system / (user + system))."""
    grown = {key: end[key] - start[key] for key in start}
    grown["sys_share"] = grown["sys_s"] / max(grown["sys_s"] + grown["user_s"], 1e-9)
    return grown


def matmul_flops(n: int, repeats: int = 10) -> float:
    """FLOP/s of an ``n x n`` fp32 matmul (best of ``repeats``)."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def peak_rss_mb() -> float:
    """Peak resident set size of this process, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StepClock:
    """Wall and CPU time from the end of the ``warmup``-th step to the end of the last one.

    Call :meth:`tick` after every training step (from a loop or a framework callback). CPU time
    (all of the process's threads) barely moves when other processes load the machine, so it
    ranks systems on a busy machine where wall time cannot.
    """

    def __init__(self, warmup: int) -> None:
        self.warmup, self.steps = warmup, 0
        self.start = self.end = self.cpu_start = self.cpu_end = 0.0
        self.usage_start: dict[str, float] = {}
        self.usage_end: dict[str, float] = {}

    def tick(self) -> None:
        self.steps += 1
        now, cpu = time.perf_counter(), time.process_time()
        if self.steps == self.warmup:
            self.start, self.cpu_start, self.usage_start = now, cpu, usage()
        self.end, self.cpu_end = now, cpu
        self.usage_end = usage()

    @property
    def timed_steps(self) -> int:
        return self.steps - self.warmup

    @property
    def seconds(self) -> float:
        self._check()
        return self.end - self.start

    @property
    def cpu_seconds(self) -> float:
        self._check()
        return self.cpu_end - self.cpu_start

    def rates(self, items_per_step: int, unit: str) -> dict[str, float]:
        """``{unit}_per_s`` (wall) and ``{unit}_per_cpu_s`` over the timed steps."""
        items = self.timed_steps * items_per_step
        return {f"{unit}_per_s": items / self.seconds,
                f"{unit}_per_cpu_s": items / self.cpu_seconds,
                "steps": self.timed_steps, "seconds": self.seconds,
                **usage_between(self.usage_start, self.usage_end)}

    def _check(self) -> None:
        if self.timed_steps < 1 or self.warmup < 1:
            raise RuntimeError(f"{self.steps} steps ran; need warmup >= 1 and more steps after")


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu or cuda (torch runners only)")
    return p


def synchronize(device: Any) -> None:
    """Wait for ``device``'s queued kernels (a no-op on the CPU), so that a clock tick after it
    times the work and not only its launch."""
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def lm_parser(description: str) -> argparse.ArgumentParser:
    """:func:`parser` plus the char-LM shape and timing options every LM runner shares."""
    p = parser(description)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--embedding", type=int, default=64)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=20)
    return p


def emit(result: dict[str, Any]) -> None:
    """Print ``result`` as one JSON line (the driver reads the last line of stdout)."""
    result.setdefault("peak_rss_mb", peak_rss_mb())
    sys.stdout.flush()
    print(json.dumps(result), flush=True)
