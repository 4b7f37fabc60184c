"""Backtest speed: a 20-fold rolling-origin backtest on weekly CO2, seqlstm's
``run_backtest`` (every origin in one batched pass) next to darts' ``historical_forecasts``
(``retrain=False``) with a model of the same size, in the same run.

Both fit an LSTM (1 x 64, lookback 104, horizon 13) for one epoch on the first 70% of the
series (not timed), then forecast the same 20 origins 4 weeks apart from the start of the test
split; the table gives the wall time of the backtest call alone (best of 3 calls in one
process, and the first call, which also pays one-off set-up) and the folds' mean MAE (ppm).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import pandas as pd

from benchmarks import harness, report
from benchmarks.synthetic import co2_weekly

NAME = "forecast-backtest"


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks forecast-backtest",
                                description=__doc__)
    p.add_argument("--folds", type=int, default=20)
    p.add_argument("--step", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=harness.default_threads())
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-write", action="store_true", help="print the section only")
    return p.parse_args(argv)


def main(argv: list[str]) -> str:
    args = parse(argv)
    load, started = os.getloadavg(), report.now()
    table = Path(tempfile.mkdtemp(prefix="bench-backtest-")) / "co2.csv"
    pd.DataFrame({"y": co2_weekly()[0]}).to_csv(table, index=False)
    common = ["--table", str(table), "--folds", str(args.folds), "--step", str(args.step),
              "--seed", str(args.seed)]
    ours = harness.run("fc_backtest_seqlstm.py", common, args.threads)
    first = ["--first-origin", str(ours["first_origin"])]
    results = harness.repeat(args.repeats, {
        "seqlstm": lambda: harness.run("fc_backtest_seqlstm.py", common, args.threads),
        "darts": lambda: harness.run("fc_backtest_darts.py", [*common, *first], args.threads,
                                     "darts")})
    med = {s: {k: harness.median_of(r, k) for k in ("backtest_s", "first_call_s", "mae")}
           for s, r in results.items()}
    rows = [[system, results[system][0]["forecasts"], m["backtest_s"],
             report.ratio(med["darts"]["backtest_s"], m["backtest_s"]), m["first_call_s"],
             report.ratio(med["darts"]["first_call_s"], m["first_call_s"]), m["mae"],
             len(results[system])] for system, m in med.items()]
    table_md = report.markdown_table(["system", "forecasts", "backtest s (best of 3 calls)",
                                      "speed-up over darts", "first call s",
                                      "first-call speed-up", "mean fold MAE (ppm)", "runs"],
                                     rows)
    version = results["darts"][0].get("darts", "?")
    lines = ["## Backtest: 20 folds on CO2", "", __doc__.split("\n\n", 1)[1].strip(), "",
             table_md, "",
             f"Machine: {report.machine(args.threads, load, started)}. darts {version}. "
             f"Medians of {args.repeats} interleaved runs.", "",
             f"Command: `{report.command_line()}`"]
    if report.loaded(load):
        lines += ["", "Measured while other processes shared the CPU (see the load average): "
                  "absolute numbers are noisy; the same-run ratio holds better."]
    section = "\n".join(lines) + "\n"
    if not args.no_write:
        report.write_section(NAME, section)
    print(section)
    return section
