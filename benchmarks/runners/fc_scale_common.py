"""What both scale runners share: the timing of a fit's first training steps (standard
library only, imported inside a peer's venv too)."""

from __future__ import annotations

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
