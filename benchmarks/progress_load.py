"""``seqlstm-train`` under a competing busy process, in a pseudo-terminal with the Rich bar live.

Each variant runs the default ``seqlstm-train`` (1 x 256 char LSTM on the standard library's
sources, batch 64 x 128) for one short epoch in a pseudo-terminal of 120 columns (Python's
``pty``), so the Rich progress bar and its refresh thread run as in a real terminal. Its speed
is the last ``tokens/s`` the bar shows (the mean over the last 20 batches, from seqlstm's
``Throughput`` callback). Loaded runs start one competing process that spins on a core for the
whole run. The variants separate the two suspects: OpenMP threads that spin while waiting
(``OMP_WAIT_POLICY`` empty = OpenMP's own default, a long spin then sleep; passive; seqlstm's
brief spin) and the bar's refresh thread (Lightning's default wakes it 100 times a second).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

from benchmarks import report
from benchmarks.venvs import ROOT
from seqlstm import runtime

NAME = "progress-load"
#: label -> (OpenMP variables set in the run's environment, the bar's refresh_rate; None:
#: seqlstm's configured default). An empty OMP_WAIT_POLICY leaves OpenMP's own default.
VARIANTS = {
    "before: OpenMP default wait, bar at 100 Hz": ({"OMP_WAIT_POLICY": ""}, 100),
    "OpenMP default wait, bar as configured": ({"OMP_WAIT_POLICY": ""}, None),
    "passive wait, bar as configured": ({"OMP_WAIT_POLICY": "PASSIVE"}, None),
    "seqlstm now: brief spin, bar as configured": ({}, None),
}
NOW = "seqlstm now: brief spin, bar as configured"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")
RATE = re.compile(r"tokens/s:? ([\d,]+)")
BUSY = "while True: pass"


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks progress-load", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=40, help="training steps per run (one epoch)")
    p.add_argument("--timeout", type=float, default=240, help="seconds before a run is cut")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--extra", nargs="*", default=[], help="more seqlstm-train overrides")
    p.add_argument("--no-write", action="store_true", help="print the section only")
    return p.parse_args(argv)


def train_command(steps: int, refresh: int | None, extra: list[str]) -> list[str]:
    """``seqlstm-train`` for ``steps`` steps of batch 64, validating 2 batches at the end."""
    overrides = [f"data.windows_per_epoch={steps * 64}", "trainer.max_epochs=1",
                 "+trainer.limit_val_batches=2", "test=false", "sample.length=0",
                 "callbacks.media.samples=0", *extra]
    if refresh is not None:
        overrides.append(f"++callbacks.rich_progress_bar.refresh_rate={refresh}")
    return [sys.executable, "-m", "seqlstm.cli.train", *overrides]


def run_in_pty(command: list[str], env: dict[str, str], cwd: Path,
               timeout: float) -> tuple[str, float, bool]:
    """Run ``command`` on a 120 x 40 pseudo-terminal; returns what it wrote (ANSI removed),
    wall seconds and whether it was cut at ``timeout``."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdin=follower, stdout=follower, stderr=follower, env=env,
                            cwd=cwd, start_new_session=True)
    os.close(follower)
    chunks, cut = [], False
    while True:
        if time.perf_counter() - start > timeout:
            cut = True
            os.killpg(proc.pid, signal.SIGTERM)
            break
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the terminal closed: the process ended
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait()
    os.close(leader)
    return screen_text(b"".join(chunks)), time.perf_counter() - start, cut


def screen_text(raw: bytes) -> str:
    """What a terminal was sent, without ANSI control sequences, every run of whitespace one
    space (the bar wraps its metrics over lines)."""
    return " ".join(ANSI.sub("", raw.decode("utf-8", errors="replace")).split())


def last_rate(text: str) -> float | None:
    rates = RATE.findall(text)
    return float(rates[-1].replace(",", "")) if rates else None


@contextlib.contextmanager
def competitor(active: bool):
    """One process spinning on a core while the block runs (nothing when not ``active``)."""
    proc = subprocess.Popen([sys.executable, "-c", BUSY]) if active else None
    try:
        yield
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


def measure(args: argparse.Namespace, label: str, loaded: bool, cwd: Path) -> dict:
    openmp, refresh = VARIANTS[label]
    env = {name: value for name, value in os.environ.items()
           if name not in runtime.OPENMP_VARIABLES}
    env.update({"PYTHONPATH": str(ROOT), "COLUMNS": "120", "LINES": "40",
                "TERM": "xterm-256color", **openmp})
    print(f"  {label}, {'loaded' if loaded else 'alone'}", file=sys.stderr, flush=True)
    with competitor(loaded):
        text, wall, cut = run_in_pty(train_command(args.steps, refresh, args.extra), env, cwd,
                                     args.timeout)
    rate = last_rate(text)
    if rate is None and not cut:
        raise RuntimeError(f"no tokens/s on the bar:\n{text[-2000:]}")
    return {"tokens_per_s": rate, "wall_s": wall, "cut": cut}


def main(argv: list[str]) -> str:
    args = parse(argv)
    load, started = os.getloadavg(), report.now()
    cwd = Path(tempfile.mkdtemp(prefix="bench-progress-"))
    results = {label: {kind: measure(args, label, kind == "loaded", cwd)
                       for kind in ("alone", "loaded")} for label in args.variants}
    section = render(args, results, load, started, os.getloadavg())
    if not args.no_write:
        report.write_section(NAME, section)
    print(section)
    return section


def render(args: argparse.Namespace, results: dict[str, dict[str, dict]],
           load: tuple[float, float, float], started, load_end) -> str:
    rows = []
    for label, runs in results.items():
        alone, loaded = runs["alone"]["tokens_per_s"], runs["loaded"]["tokens_per_s"]
        note = "; ".join(f"{kind} run cut at {args.timeout:g} s" for kind in runs
                         if runs[kind]["cut"]) or "-"
        rows.append([label, alone, loaded, report.ratio(loaded, alone),
                     runs["alone"]["wall_s"], runs["loaded"]["wall_s"], note])
    table = report.markdown_table(
        ["variant", "tokens/s alone", "tokens/s loaded", "loaded / alone", "wall s alone",
         "wall s loaded", "note"], rows)
    now = results.get(NOW)
    verdict = ""
    if now:
        kept = report.ratio(now["loaded"]["tokens_per_s"], now["alone"]["tokens_per_s"])
        if kept is not None:
            verdict = (f"seqlstm now keeps {kept:.2f} of its unloaded throughput under one "
                       f"competing process: {'met' if kept >= 0.4 else 'MISSED'} (>= 0.4).")
    lines = [
        "## Training under a competing process (pseudo-terminal, progress bar live)", "",
        f"`seqlstm-train` with its defaults for one epoch of {args.steps} steps, in a 120-column "
        "pseudo-terminal so that the Rich progress bar and its refresh thread run; tokens/s is "
        "the last value the bar shows (the mean over the last 20 batches). Loaded: the benchmark "
        "starts one process spinning on a core for the run. Wall s includes start-up. "
        "`OMP_WAIT_POLICY` empty means OpenMP's own default (a long spin, then sleep); passive: "
        "sleep at once; seqlstm now: `GOMP_SPINCOUNT=1000` (a brief spin, then sleep).", "",
        table, verdict, "",
        f"Machine: {report.machine(os.cpu_count() or 1, load, started)}; load average at the "
        f"end {load_end[0]:.2f}.", "", f"Command: `{report.command_line()}`"]
    if report.loaded(load):
        lines += ["", "Other processes shared the CPU besides the benchmark's own competitor "
                  "(see the load averages): the alone column is not truly alone."]
    return "\n".join(lines) + "\n"
