"""Small UEA/UCR classification sets with seqlstm's defaults: the documented command
``seqlstm-train data=sequences data.path=TRAIN.ts data.test_path=TEST.ts`` and nothing else
(no tuned patience, epochs or learning rate), over several seeds, on sets shipped in the
installed aeon wheel. Each row reports test accuracy, the optimiser steps trained (the run
folder's ``training.json``) and the wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import report
from benchmarks.harness import SEQLSTM_ENV
from benchmarks.learning import last_values
from benchmarks.runners.common import thread_env

#: name -> what it is (training sequences, channels, steps, classes); all ship in aeon 1.6
SETS = {
    "BasicMotions": "UEA, 40 train / 40 test, 6 channels, 100 steps, 4 classes",
    "ItalyPowerDemand": "UCR, 67 train / 1029 test, 1 channel, 24 steps, 2 classes",
    "GunPoint": "UCR, 50 train / 150 test, 1 channel, 150 steps, 2 classes",
    "ArrowHead": "UCR, 36 train / 175 test, 1 channel, 251 steps, 3 classes",
}


def command(name: str, aeon: Path, seed: int) -> list[str]:
    """The documented command for set ``name`` (paths in the aeon wheel) with ``seed``."""
    folder = aeon / name
    return ["data=sequences", f"data.path={folder / f'{name}_TRAIN.ts'}",
            f"data.test_path={folder / f'{name}_TEST.ts'}", f"seed={seed}"]


def run(name: str, aeon: Path, seed: int, threads: int) -> dict:
    """Train and test one set with one seed in a fresh process; its results."""
    out = Path(tempfile.mkdtemp(prefix=f"small-{name}-{seed}-"))
    plumbing = [f"hydra.run.dir={out}", "quiet=true"]  # where files go, what is printed
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "seqlstm.cli.train",
                           *command(name, aeon, seed), *plumbing],
                          capture_output=True, text=True, cwd=out,
                          env={**os.environ, **thread_env(threads), **SEQLSTM_ENV})
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    record = json.loads((out / "training.json").read_text())
    metrics = last_values(next(out.rglob("metrics.csv")))
    return {"acc": metrics.get("test/acc"), "steps": record["optimizer_steps"],
            "stopped_early": record["stopped_early"], "seconds": seconds}


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks small-data", description=__doc__)
    p.add_argument("--sets", nargs="+", choices=list(SETS), default=list(SETS))
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-write", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str]) -> str:
    from seqlstm.data.shipped import aeon_data_dir

    args = parse(argv)
    aeon = aeon_data_dir()
    if aeon is None:
        raise SystemExit("error: aeon is not installed (pip install aeon --no-deps): the sets "
                         "ship in its wheel")
    load, started = os.getloadavg(), report.now()
    rows = []
    for name in args.sets:
        results = []
        for seed in args.seeds:
            print(f"[small-data] {name} seed {seed}", file=sys.stderr, flush=True)
            results.append(run(name, aeon, seed, args.threads))
        rows.append(row(name, args.seeds, results))
    table = report.markdown_table(
        ["set", "what", "test acc per seed", "mean", "optimiser steps", "min per run"], rows)
    section = "\n".join([
        "## Small classification sets with the defaults", "",
        "`seqlstm-train data=sequences data.path=$AEON/NAME/NAME_TRAIN.ts "
        "data.test_path=$AEON/NAME/NAME_TEST.ts seed=S`, nothing tuned; the validation split "
        "is the seeded stratified 20% of TRAIN (see docs/reliability.md, budgets and small "
        "data).", "", table,
        f"Machine: {report.machine(args.threads, load, started)}.", "",
        f"Command: `{report.command_line()}`",
        *(["", "Measured while other processes shared the CPU (see the load average): the "
           "wall times are longer than they would be alone."] if report.loaded(load) else [])
    ]) + "\n"
    if not args.no_write:
        report.write_section("small-data", section)
    print(section)
    return section


def row(name: str, seeds: list[int], results: list[dict]) -> list[object]:
    """One table row: accuracy per seed (or the error), their mean, steps and minutes."""
    failed = [r["error"] for r in results if "error" in r]
    if failed:
        return [name, SETS[name], f"failed: {failed[0]}", None, "-", None]
    accs = [r["acc"] for r in results]
    per_seed = ", ".join(f"{report.fmt(a)} (seed {s})" for a, s in zip(accs, seeds, strict=True))
    steps = ", ".join(f"{r['steps']}{'' if r['stopped_early'] else ' (budget)'}"
                      for r in results)
    return [name, SETS[name], per_seed, statistics.mean(accs), steps,
            statistics.mean(r["seconds"] for r in results) / 60]
