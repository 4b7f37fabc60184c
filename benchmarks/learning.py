"""Learning results against published tables: seqlstm's experiment configs, run as
``seqlstm-train experiment=NAME``, next to the figure a paper or a peer reports.

Rows whose experiment config is not in ``conf/experiment`` are listed as pending; ``--rows``
runs a subset, ``--budget`` caps the tiny shakespeare rows' training time.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import report
from benchmarks.harness import SEQLSTM_ENV
from benchmarks.runners.common import thread_env


@dataclass(frozen=True)
class Row:
    """One line of the table: what we run and what the literature reports."""

    key: str
    task: str
    experiment: str
    metric: str
    published: str
    source: str
    overrides: tuple[str, ...] = ()
    budgeted: bool = False
    """Trained for ``--budget`` wall time (``trainer.max_time``)."""


ADDING = ("Hochreiter & Schmidhuber 1997, Exp. 4, Table 7; the 0.167 baseline: Arjovsky, Shah & "
          "Bengio 2016")
SHAKESPEARE = ("loss 1.88 (GPT 4 x 128 on CPU, ~3 min); best validation loss 1.4697 (the 6 x 384 "
               "'baby GPT', one A100, ~3 min)")
NANOGPT = "nanoGPT README (Karpathy), shakespeare_char"
CHRONO = ("chrono-initialised LSTMs solve the copy task where the default init stays at the "
          "memoryless baseline (their Fig. 3)")
CHRONO_SOURCE = "Tallec & Ollivier 2018, \"Can recurrent neural networks warp time?\""
ROWS = (
    Row("adding-100", "adding problem, T=100, LSTM (test MSE)", "adding_lstm", "test/loss",
        "LSTM solves T=100 after 74,000 training sequences (1 of 2560 test sequences off by "
        ">= 0.04 on a target scale half as wide as ours); predicting 1 scores MSE 0.167",
        ADDING),
    Row("adding-long", "adding problem, T=200 (T=500: below the table), LSTM (test MSE)",
        "adding_lstm", "test/loss",
        "LSTM solves T=1000 after 853,000 training sequences, 11.5x those of T=100",
        ADDING, ("data.length=200",)),
    Row("temporal-order", "temporal order, length 100-110, LSTM", "temporal_order_lstm",
        "test/acc", "solved: final error of every output < 0.3 on all but 1 of 2560 test "
        "sequences, after 31,390 training sequences (mean of 20 trials)",
        "Hochreiter & Schmidhuber 1997, Exp. 6a, Table 9"),
    Row("copy", "copy task, 10 symbols after 50 blanks, LSTM", "copy_lstm", "test/acc",
        "memoryless baseline: chance (1/8) on the recalled symbols (cross-entropy "
        "10 log 8 / (T + 20) over all steps)",
        "Arjovsky, Shah & Bengio 2016 (task definition and baseline)"),
    Row("copy-chrono", "copy task, 10 symbols after 50 blanks, LSTM, chrono init",
        "copy_chrono", "test/acc", CHRONO, CHRONO_SOURCE),
    Row("copy-chrono-100", "copy task, 10 symbols after 100 blanks, LSTM, chrono init",
        "copy_chrono", "test/acc", CHRONO, CHRONO_SOURCE, ("data.length=100",)),
    Row("copy-chrono-200", "copy task, 10 symbols after 200 blanks, LSTM, chrono init",
        "copy_chrono", "test/acc", CHRONO, CHRONO_SOURCE, ("data.length=200",)),
    Row("copy-chrono-500", "copy task, 10 symbols after 500 blanks, LSTM, chrono init",
        "copy_chrono", "test/acc", CHRONO, CHRONO_SOURCE,
        ("data.length=500", "trainer.max_epochs=20")),
    Row("copy-chrono-1000", "copy task, 10 symbols after 1000 blanks, LSTM, chrono init",
        "copy_chrono", "test/acc", CHRONO, CHRONO_SOURCE,
        ("data.length=1000", "trainer.max_epochs=30")),
    Row("shakespeare-lstm", "tiny shakespeare held-out loss (nats/char), LSTM",
        "tinyshakespeare_lstm", "test/loss", SHAKESPEARE, NANOGPT,
        budgeted=True),
    Row("shakespeare-gru", "tiny shakespeare held-out loss (nats/char), GRU",
        "tinyshakespeare_lstm", "test/loss", SHAKESPEARE, NANOGPT,
        ("model.encoder.cell=gru",), budgeted=True),
    Row("japanese-vowels", "JapaneseVowels test accuracy, BiLSTM", "japanese_vowels_bilstm",
        "test/acc", "0.941 (Kudo et al.); 1-NN DTW_I 0.959, ED 0.924 (as recalled from the "
        "papers; not re-checked against them in this project)",
        "Kudo, Toyama & Shimbo 1999; UEA archive, Bagnall et al. 2018"),
    Row("co2-mase", "forecasting MASE, weekly CO2 (statsmodels)", "co2_lstm", "test/mase",
        "seasonal naive = 1 by definition; peers: see the forecasting table",
        "Hyndman & Koehler 2006 (MASE)"),
)


def experiment_exists(name: str) -> bool:
    return (report.ROOT / "conf" / "experiment" / f"{name}.yaml").is_file()


def last_values(metrics_csv: Path) -> dict[str, float]:
    """The last logged value of every column of a Lightning CSVLogger ``metrics.csv``."""
    values: dict[str, float] = {}
    with metrics_csv.open(newline="") as f:
        for line in csv.DictReader(f):
            values.update({k: float(v) for k, v in line.items() if v not in ("", None)})
    return values


def run_row(row: Row, args: argparse.Namespace) -> dict:
    """Train ``row``'s experiment in a fresh process; its metrics and wall time."""
    if not experiment_exists(row.experiment):
        return {"pending": f"experiment `{row.experiment}` not on this branch"}
    out = Path(tempfile.mkdtemp(prefix=f"bench-{row.key}-"))
    recipe = [f"experiment={row.experiment}", *row.overrides, f"seed={args.seed}"]
    if row.budgeted:
        recipe += [f"trainer.max_time='{args.budget}'"]
    # where files go and what is printed: no bearing on the result
    plumbing = [f"hydra.run.dir={out}", "logger=csv", "sample.length=0",
                "~callbacks.rich_progress_bar", "trainer.enable_progress_bar=false"]
    if args.data_dir:
        plumbing.append(f"paths.data_dir={args.data_dir}")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "seqlstm.cli.train", *recipe, *plumbing],
                          capture_output=True, text=True, cwd=report.ROOT,
                          env={**os.environ, **thread_env(args.threads), **SEQLSTM_ENV})
    seconds = time.perf_counter() - start
    command = "seqlstm-train " + " ".join(recipe)
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines()
                 if line.strip() and not line.startswith("Set the environment variable")]
        return {"error": lines[-1:] or ["?"], "command": command}
    found = sorted(out.rglob("metrics.csv"))
    metrics = last_values(found[-1]) if found else {}
    return {"value": metrics.get(row.metric), "metrics": metrics, "seconds": seconds,
            "command": command}


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks learning", description=__doc__)
    p.add_argument("--rows", nargs="+", choices=[r.key for r in ROWS],
                   default=[r.key for r in ROWS])
    p.add_argument("--budget", default="00:00:10:00",
                   help="trainer.max_time of the tiny shakespeare rows (DD:HH:MM:SS)")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--data-dir", help="paths.data_dir (where tinyshakespeare.txt lies)")
    p.add_argument("--no-write", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str]) -> str:
    args = parse(argv)
    load, args.started = os.getloadavg(), report.now()
    rows = [r for r in ROWS if r.key in args.rows]
    results = {}
    for row in rows:
        print(f"[learning] {row.key}", file=sys.stderr, flush=True)
        results[row.key] = run_row(row, args)
    section = render(rows, results, args, load)
    if not args.no_write:
        report.write_section("learning", section)
    print(section)
    return section


def ours(result: dict, metric: str) -> str:
    if "pending" in result:
        return f"pending: {result['pending']}"
    if "error" in result:
        return f"failed: {result['error'][0]}"
    if result["value"] is None:
        return f"`{metric}` not logged (got {', '.join(sorted(result['metrics']))})"
    steps = result["metrics"].get("step")
    return (f"{report.fmt(result['value'])} ({metric}; {steps:.0f} steps; run "
            f"{result['seconds'] / 60:.1f} min)" if steps is not None else
            f"{report.fmt(result['value'])} ({metric}; run {result['seconds'] / 60:.1f} min)")


def render(rows: list[Row], results: dict[str, dict], args: argparse.Namespace,
           load: tuple[float, float, float]) -> str:
    table = report.markdown_table(
        ["task", "published / peer figure", "source", "ours", "command"],
        [[r.task, r.published, r.source, ours(results[r.key], r.metric),
          f"`{results[r.key]['command']}`" if "command" in results[r.key] else "-"]
         for r in rows])
    return "\n".join([
        "## Learning results against published tables", "",
        f"Each row trains one experiment config with seed {args.seed}; tiny shakespeare rows "
        f"stop after {args.budget} (DD:HH:MM:SS) of training on this CPU "
        "(the trainer sets no `min_epochs`, so the budget holds inside the first epoch) and report "
        "the loss on the test split, held out "
        "like nanoGPT's validation split. The published figures "
        "come from the cited papers (their own set-ups, budgets and hardware), so they say what "
        "a model should learn, not how fast.", "", table,
        f"Machine: {report.machine(args.threads, load, args.started)}.", "",
        f"Command: `{report.command_line()}`",
        *(["", "Measured while other processes shared the CPU (see the load average): a "
           "budgeted row trains fewer steps than it would alone."] if report.loaded(load) else [])
    ]) + "\n"
