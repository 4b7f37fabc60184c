"""Running runners: thread caps, the main venv or a peer's, repeats with medians."""

from __future__ import annotations

import ctypes.util
import os
import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks.report import median
from benchmarks.runners.common import thread_env
from benchmarks.venvs import PEERS, ROOT, ensure_venv, run_runner
from seqlstm import runtime

SEQLSTM_ENV = {"PYTHONPATH": str(ROOT)}
#: the process set-up of a runner, as the driver asks for it (None removes a variable):
#: ``as-written`` is what a script gets by default (glibc's malloc, OpenMP's own wait policy);
#: ``seqlstm`` is what seqlstm's console scripts set up (seqlstm/runtime.py), for seqlstm's
#: runners and for a hand-written loop given the same set-up; ``tcmalloc`` is that set-up with
#: gperftools' tcmalloc preloaded (seqlstm then leaves the allocator to it)
TCMALLOC, JEMALLOC = "libtcmalloc_minimal.so.4", "libjemalloc.so.2"
_SEQLSTM_RUNTIME = {**runtime.openmp_environment(), "SEQLSTM_ALLOCATOR": "tuned",
                    "LD_PRELOAD": None}
RUNTIMES: dict[str, dict[str, str | None]] = {
    "as-written": {**dict.fromkeys(runtime.OPENMP_VARIABLES), "SEQLSTM_ALLOCATOR": None,
                   "LD_PRELOAD": None},
    "seqlstm": _SEQLSTM_RUNTIME,
    "tcmalloc": {**_SEQLSTM_RUNTIME, "LD_PRELOAD": TCMALLOC},
    # jemalloc keeping freed pages (no decay), as the glibc set-up keeps them
    "jemalloc": {**_SEQLSTM_RUNTIME, "LD_PRELOAD": JEMALLOC,
                 "MALLOC_CONF": "dirty_decay_ms:-1,muzzy_decay_ms:-1"},
}
#: the package that installs a runtime's preloaded library (Debian/Ubuntu)
PRELOAD_PACKAGES = {TCMALLOC: "libtcmalloc-minimal4", JEMALLOC: "libjemalloc2"}


def missing_preload(runtime_name: str) -> str | None:
    """Why ``runtime_name`` cannot run here (its preloaded library is not installed), or None."""
    library = RUNTIMES[runtime_name].get("LD_PRELOAD")
    if library is None or ctypes.util.find_library(library[3:].split(".so")[0]):
        return None
    return f"{library} is not installed (apt install {PRELOAD_PACKAGES[library]})"


def default_threads() -> int:
    """One intra-op thread per core: more threads than cores collapses torch on a busy CPU."""
    return os.cpu_count() or 1


def run(script: str, args: list[str], threads: int, peer: str | None = None,
        env: dict[str, str | None] | None = None, runtime: str = "as-written") -> dict:
    """Run ``script`` in ``peer``'s venv (None: this interpreter, seqlstm importable) with the
    process set-up ``runtime`` names (see :data:`RUNTIMES`)."""
    python: Path | str = sys.executable if peer is None else ensure_venv(PEERS[peer])
    full_env = {**thread_env(threads), **(SEQLSTM_ENV if peer is None else {}),
                **RUNTIMES[runtime], **(env or {})}
    print(f"  {peer or 'seqlstm venv'}: {script} {' '.join(args)}", file=sys.stderr, flush=True)
    return run_runner(python, script, [*args, "--threads", str(threads)], full_env)


def median_of(results: list[dict], key: str) -> float | None:
    values = [r[key] for r in results if r.get(key) is not None]
    return median(values) if values else None


def medians(results: dict[str, list[dict]], keys: tuple[str, ...]
            ) -> dict[str, dict[str, float | None]]:
    """For each job of ``results`` (as :func:`repeat` returns them), the median of each of
    ``keys`` over its runs."""
    return {job: {key: median_of(runs, key) for key in keys} for job, runs in results.items()}


def repeat(count: int, jobs: dict[str, Callable[[], dict]]) -> dict[str, list[dict]]:
    """Run every job ``count`` times, interleaved (a, b, c, a, b, c...) so that a change in the
    machine's load falls on all of them alike."""
    results: dict[str, list[dict]] = {name: [] for name in jobs}
    for round_ in range(count):
        for name, job in jobs.items():
            print(f"[{round_ + 1}/{count}] {name}", file=sys.stderr, flush=True)
            results[name].append(job())
    return results
