"""Backtest speed: rolling-origin backtests, seqlstm's ``run_backtest`` (every origin in one
batched no-grad pass, metrics per fold and per series from grouped sums) next to darts'
``historical_forecasts`` (``retrain=False``, which batches the origins in one predict too) with
a model of the same size, in the same run.

Both fit an LSTM (1 x 64, lookback 104, horizon 13) for one epoch of at most 50 batches on the
first 70% of each series (not timed), then forecast the same origins ``step`` rows apart from
the start of the test split: 20 origins 4 weeks apart on weekly CO2 (the issue's case), 200
origins one week apart on CO2, and 20 origins on each of 100 synthetic series of 1,400 steps.
The table gives the wall time of the backtest call alone (best of 10 calls in one process, and
the first call, which also pays one-off set-up): for seqlstm ``run_backtest``, which returns its
three tables (per fold, per fold and series, every forecast step) and the figure's history;
for darts ``historical_forecasts``, which returns the forecasts as ``TimeSeries`` (darts scores
nothing in that call). ``seqlstm-backtest`` then writes the CSV files and the figure, outside
the timed call: their time is the "CSV + figure s" column. "of which network s" is seqlstm's
forward passes alone over the same windows (best of 10), the floor of its backtest call. Both
processes get the same torch threads (one per core); seqlstm's backtest forecasts and scores on
one intra-op thread (``seqlstm.backtesting.FORECAST_THREADS``, in passes of 256 windows), so
darts is also given one thread in a row of its own.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import harness, report
from benchmarks.synthetic import co2_weekly, synthetic_panel
from seqlstm.data.series.splits import split_cuts

NAME = "forecast-backtest"
LOOKBACK = 104
#: name -> (series, length or None for CO2, folds, step)
CASES = {"co2-20": (1, None, 20, 4), "co2-200": (1, None, 200, 1),
         "panel-100x20": (100, 1400, 20, 4)}
MAIN = "co2-20"


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks forecast-backtest",
                                description=__doc__)
    p.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=harness.default_threads())
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-write", action="store_true", help="print the section only")
    return p.parse_args(argv)


def make_table(case: str, folder: Path) -> tuple[list[str], int]:
    """The case's table as a CSV (``y``, with an ``id`` column for many series), the runner
    options naming it and its folds, and the length of each series."""
    count, length, folds, step = CASES[case]
    if length is None:
        frame, length = pd.DataFrame({"y": co2_weekly()[0]}), len(co2_weekly()[0])
        ids: list[str] = []
    else:
        values = synthetic_panel(count, length, period=52, seed=0)
        frame = pd.DataFrame({"id": np.repeat([f"s{i}" for i in range(count)], length),
                              "y": values.reshape(-1)})
        ids = ["--id-column", "id"]
    path = folder / f"{case}.csv"
    frame.to_csv(path, index=False)
    return ["--table", str(path), *ids, "--folds", str(folds), "--step", str(step)], length


def main(argv: list[str]) -> str:
    args = parse(argv)
    load, started = os.getloadavg(), report.now()
    folder = Path(tempfile.mkdtemp(prefix="bench-backtest-"))
    jobs, systems = {}, {}
    for case in args.cases:
        common, length = make_table(case, folder)
        common += ["--seed", str(args.seed)]
        cuts = split_cuts(np.array([length]), (0.7, 0.15, 0.15))[0]  # seqlstm's default split
        darts = [*common, "--first-origin", str(int(cuts[2]) + LOOKBACK),
                 "--train-end", str(int(cuts[1]))]
        jobs[case, "seqlstm"] = lambda c=common: harness.run("fc_backtest_seqlstm.py", c,
                                                             args.threads)
        jobs[case, "darts"] = lambda d=darts: harness.run("fc_backtest_darts.py", d,
                                                          args.threads, "darts")
        systems[case] = ["seqlstm", "darts"]
        if case == MAIN and args.threads > 1:
            jobs[case, "darts (1 thread)"] = lambda d=darts: harness.run(
                "fc_backtest_darts.py", d, 1, "darts")
            systems[case].append("darts (1 thread)")
    results = harness.repeat(args.repeats, jobs)
    keys = ("backtest_s", "first_call_s", "mae", "network_s", "write_s")
    med = harness.medians(results, keys)
    rows = []
    for case in args.cases:
        darts = med[case, "darts"]
        for system in systems[case]:
            m = med[case, system]
            rows.append([case, system, results[case, system][0]["forecasts"], m["backtest_s"],
                         report.ratio(darts["backtest_s"], m["backtest_s"]), m["first_call_s"],
                         report.ratio(darts["first_call_s"], m["first_call_s"]), m["mae"],
                         m["network_s"], m["write_s"], len(results[case, system])])
    table_md = report.markdown_table(
        ["case", "system", "forecasts", "backtest s (best of 10 calls)", "speed-up over darts",
         "first call s", "first-call speed-up", "mean fold MAE", "of which network s",
         "CSV + figure s (not timed)",
         "runs"], rows)
    version = next(iter(r for (_, s), rs in results.items() if s == "darts" for r in rs),
                   {}).get("darts", "?")
    lines = ["## Backtest: 20 folds on CO2", "", __doc__.split("\n\n", 1)[1].strip(), "",
             table_md, "",
             f"Machine: {report.machine(args.threads, load, started)}; load average at the end "
             f"{' / '.join(f'{x:.2f}' for x in os.getloadavg())}. darts {version}. Medians of "
             f"{args.repeats} interleaved runs.", "",
             f"Command: `{report.command_line()}`"]
    if report.loaded(load):
        lines += ["", "Measured while other processes shared the CPU (see the load average): "
                  "absolute numbers are noisy; the same-run ratio holds better."]
    section = "\n".join(lines) + "\n"
    if not args.no_write:
        report.write_section(NAME, section)
    print(section)
    return section
