"""Process set-up for fast CPU training: the memory allocator and the OpenMP threads.

Two settings, both measured on a 2-core machine (docs/benchmarks.md, docs/performance.md):

* **Allocator.** glibc's ``malloc`` hands every large freed buffer (a tensor of a few MB) back
  to the kernel and faults it in again on the next step; a third of the CPU time went to the
  kernel. :func:`tune_allocator` raises glibc's mmap and trim thresholds through ``mallopt``
  (ctypes, no environment variable), so freed tensor memory stays in the heap and is reused.
  A preloaded tcmalloc, jemalloc or mimalloc (``LD_PRELOAD``) is left alone and reported.
* **Threads.** OpenMP threads spin while they wait for work (libgomp: 300,000 iterations, then
  sleep); when another process holds one of the cores, a spinning thread takes the time its
  partner needed, and sleeping at once (``OMP_WAIT_POLICY=PASSIVE``) pays a futex wake-up per
  parallel region: 35% of the speed and 11% system CPU on an idle machine. :func:`prepare_process`
  sets a brief spin, ``GOMP_SPINCOUNT=1000`` (a few microseconds, enough to bridge one kernel to
  the next), *before torch is imported*: the OpenMP runtime reads it once, when it loads. A
  policy or spin count the environment names is left alone.

The console scripts do both for you (``runtime.allocator=default`` turns the allocator set-up
off). In your own program::

    from seqlstm import runtime
    runtime.prepare_process()      # first, before `import torch`
    import torch
    runtime.tune_allocator()       # any time; the earlier, the fewer buffers glibc hands back

Child processes (DDP ranks, spawned workers) inherit the choice through ``SEQLSTM_ALLOCATOR``:
``import seqlstm`` applies it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import logging
import os
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from seqlstm.errors import ConfigError

log = logging.getLogger(__name__)

ALLOCATORS = ("default", "tuned")
#: glibc's mallopt parameters (malloc.h) and the values chosen by measurement
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: (a top pad of 16-256 MiB changed neither system time nor faults, and added peak memory)
MALLOPT_SETTINGS = ((M_MMAP_THRESHOLD, 1 << 30), (M_TRIM_THRESHOLD, 1 << 30))
TUNED = "glibc tuned (mallopt: mmap and trim thresholds 1 GiB)"
PRELOADED = ("tcmalloc", "jemalloc", "mimalloc")
#: how a parent seqlstm process tells its children which allocator set-up to apply
ENV_ALLOCATOR = "SEQLSTM_ALLOCATOR"
WAIT_POLICY = "OMP_WAIT_POLICY"
SPIN_COUNT = "GOMP_SPINCOUNT"
#: libgomp's spin iterations before a waiting thread sleeps (measured: docs/performance.md)
BRIEF_SPIN = "1000"
#: the variables that decide how OpenMP threads wait
OPENMP_VARIABLES = (WAIT_POLICY, SPIN_COUNT)

_in_use = "glibc defaults" if sys.platform.startswith("linux") else "the platform's default"


def preloaded_allocator(maps_path: str = "/proc/self/maps") -> str | None:
    """The replacement allocator mapped into this process (tcmalloc, jemalloc, mimalloc), if any."""
    try:
        with open(maps_path, encoding="utf-8", errors="replace") as maps:
            text = maps.read()
    except OSError:
        return None
    return next((name for name in PRELOADED if f"lib{name}" in text), None)


def _glibc() -> Any | None:
    """glibc's C library through ctypes, or None where malloc is not glibc's."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "gnu_get_libc_version") else None


def tune_allocator(mode: str = "tuned") -> str:
    """Set up this process's allocator (``tuned``) or leave it alone (``default``).

    Returns what is in use, e.g. ``glibc tuned (...)``, ``tcmalloc (preloaded)`` or
    ``glibc defaults``. Elsewhere than Linux with glibc it changes nothing and says so in a
    debug log line. Numerics are untouched: only where freed memory goes changes. Records
    ``mode`` in ``SEQLSTM_ALLOCATOR`` so that child processes importing seqlstm follow.
    """
    global _in_use
    if mode not in ALLOCATORS:
        raise ConfigError("runtime.allocator", f"one of {list(ALLOCATORS)}", mode)
    os.environ[ENV_ALLOCATOR] = mode
    preloaded = preloaded_allocator()
    if preloaded:
        _in_use = f"{preloaded} (preloaded)"
        return _in_use
    if mode == "default":
        return _in_use
    libc = _glibc()
    if libc is None:
        log.debug("allocator left as it is: mallopt needs Linux with glibc (%s)", sys.platform)
        return _in_use
    if all(libc.mallopt(param, value) == 1 for param, value in MALLOPT_SETTINGS):
        _in_use = TUNED
    else:
        log.debug("glibc refused a mallopt setting; allocator partly tuned")
        _in_use = "glibc (mallopt refused)"
    return _in_use


def allocator_in_use() -> str:
    """What :func:`tune_allocator` last found or set (``glibc defaults`` before any call)."""
    return _in_use


def prepare_process(environ: MutableMapping[str, str] = os.environ) -> None:
    """Before torch is imported: OpenMP threads spin briefly, then sleep, when they run out of
    work (``GOMP_SPINCOUNT=1000``), unless the environment names a wait policy or a spin count;
    an empty ``OMP_WAIT_POLICY=`` is removed, leaving OpenMP's own default (a long spin, then
    sleep). Too late once torch is loaded (the OpenMP runtime read the variables then): logged."""
    if "torch" in sys.modules:
        log.debug("torch is already imported: OpenMP keeps the wait policy it read at load")
    if environ.get(WAIT_POLICY) == "":
        del environ[WAIT_POLICY]
        return
    if WAIT_POLICY not in environ:
        environ.setdefault(SPIN_COUNT, BRIEF_SPIN)


def openmp_environment() -> dict[str, str | None]:
    """The OpenMP variables :func:`prepare_process` sets in a clean environment (None: unset)."""
    environ: dict[str, str] = {}
    prepare_process(environ)
    return {name: environ.get(name) for name in OPENMP_VARIABLES}


def inherit(environ: Mapping[str, str] = os.environ) -> None:
    """Apply the allocator set-up a parent seqlstm process recorded in ``SEQLSTM_ALLOCATOR``."""
    mode = environ.get(ENV_ALLOCATOR)
    if mode in ALLOCATORS:
        tune_allocator(mode)


def apply(settings: Mapping[str, Any] | None) -> str:
    """Apply a ``runtime`` config (``allocator``, ``threads``); returns the allocator in use."""
    settings = dict(settings or {})
    unknown = sorted(set(settings) - {"allocator", "threads"})
    if unknown:
        raise ConfigError(f"runtime.{unknown[0]}", "allocator or threads", settings[unknown[0]])
    threads = settings.get("threads")
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ConfigError("runtime.threads", "an integer >= 1 or null", threads)
        import torch

        torch.set_num_threads(threads)
    return tune_allocator(settings.get("allocator", "tuned"))


@contextlib.contextmanager
def intra_op_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op threads at most ``threads`` inside the block, restored after (None:
    unchanged; the setting is process-wide). For small passes of a recurrence: each of its steps
    is a parallel region, and a barrier per step costs more than the thread saves (and stalls
    whenever another process holds a core). Also a decorator."""
    import torch

    before = torch.get_num_threads()
    if threads is not None and threads < before:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off inside the block, restored after. For building
    many small acyclic containers at once (a list per series of 100,000 series): the
    allocations trigger a full collection, which walks every object of the process (torch's
    and Lightning's too: 0.25 s of a 1.2 s table set-up, docs/benchmarks.md)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def describe() -> str:
    """One line for the banner: allocator, OpenMP wait policy, torch threads."""
    threads = ""
    if "torch" in sys.modules:
        threads = f", {sys.modules['torch'].get_num_threads()} torch thread(s)"
    policy = os.environ.get(WAIT_POLICY)
    spin = os.environ.get(SPIN_COUNT)
    named = [f"{name} {value}" for name, value in ((WAIT_POLICY, policy), (SPIN_COUNT, spin))
             if value]
    waiting = ", ".join(named) or "unset (a long spin, then sleep)"
    return f"allocator {_in_use}; OpenMP wait {waiting}{threads}"
