"""What both scale runners share: the timing of a fit's first training steps (standard
library only, imported inside a peer's venv too)."""

from __future__ import annotations

import resource
import time

#: ``first``: wall time (``time.perf_counter``) at the start of the first training batch;
#: ``last``: at the end of the last one. Module-level: a library may deep-copy its callbacks.
TIMES: dict[str, float] = {}


class FirstSteps:
    """Lightning callback that records :data:`TIMES`."""

    def on_train_batch_start(self, *args, **kwargs) -> None:
        TIMES.setdefault("first", time.perf_counter())

    def on_train_batch_end(self, *args, **kwargs) -> None:
        TIMES["last"] = time.perf_counter()


def process_clock() -> tuple[float, float, float]:
    """Wall, CPU and system (kernel: page faults show up here) CPU seconds now."""
    return time.perf_counter(), time.process_time(), \
        resource.getrusage(resource.RUSAGE_SELF).ru_stime


def prep_times(start: tuple[float, float, float]) -> dict[str, float]:
    """``prep_s``, ``prep_cpu_s`` and ``prep_sys_s`` since ``start`` (a :func:`process_clock`)."""
    now = process_clock()
    return {"prep_s": now[0] - start[0], "prep_cpu_s": now[1] - start[1],
            "prep_sys_s": now[2] - start[2]}


def peak_rss_mib() -> float:
    """This process's peak resident set (``VmHWM``, MiB). Unlike ``ru_maxrss``, which a child
    inherits from the parent that forked it, it starts afresh at ``exec``."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def as_callback(base: type) -> object:
    """A :class:`FirstSteps` that is also a ``base`` (the venv's ``lightning`` Callback)."""
    return type("FirstStepsCallback", (FirstSteps, base), {})()
