"""Forecasting at scale: from a Parquet table of many series to the first training steps,
seqlstm next to neuralforecast on the same table, in the same run.

Tables: ``S`` seeded series x ``--length`` steps (a long table ``unique_id, ds, y``; sine of a
per-series period and phase plus noise, ids as text), for each ``S`` in ``--sizes``. Per system
and size one fresh process reads the file, builds its dataset ("prep s": seqlstm's
``TimeSeriesDataModule.setup``, neuralforecast's ``TimeSeriesDataset.from_df`` after
``pd.read_parquet``) and trains ``--steps`` steps of a small LSTM. "first step s" is the wall time
from before reading the file to the start of the first training batch; peak RSS is the process's
``VmHWM`` (imports included; "import RSS" is the part before reading). System
``seqlstm-ooc`` is seqlstm with ``out_of_core=True`` and a fresh ``cache_dir``: the first read
streamed in chunks into the memory-mapped cache.

``--first-read``: the first read alone (``read_store``), in memory and streamed out of core,
next to the store's size in memory (section ``forecast-scale-first-read``); ``--interleaved``:
the tables' rows ordered by time (all series at step 0, then step 1...), so that the read must
group them; ``--csv``: the same tables as CSV files.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks import harness, report

NAME = "forecast-scale"
SYSTEMS = {"seqlstm": ("fc_scale_seqlstm.py", None, []),
           "seqlstm-ooc": ("fc_scale_seqlstm.py", None, ["--out-of-core"]),
           "neuralforecast": ("fc_scale_neuralforecast.py", "neuralforecast", [])}
READ_MODES = ("memory", "streamed")


def write_table(path: Path, n_series: int, length: int, seed: int,
                interleaved: bool = False) -> None:
    """A long Parquet table of ``n_series`` x ``length`` rows, built column-wise (rows by
    series, or with ``interleaved`` by time)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    period = rng.integers(6, 48, n_series)[:, None]
    phase = rng.uniform(0, 2 * np.pi, n_series)[:, None]
    level = rng.uniform(5, 50, n_series)[:, None]
    steps = np.arange(length)[None, :]
    y = level + np.sin(2 * np.pi * steps / period + phase) * level / 5
    y += rng.standard_normal((n_series, length)) * level / 20
    names = pa.array([f"s{i:07d}" for i in range(n_series)])
    codes = np.arange(n_series, dtype=np.int32)[:, None].repeat(length, axis=1)  # (S, L)
    ds = np.broadcast_to(np.arange(length, dtype=np.int64), (n_series, length))
    if interleaved:
        codes, ds, y = codes.T, ds.T, y.T
    ids = pa.DictionaryArray.from_arrays(codes.reshape(-1), names).cast(pa.string())
    pq.write_table(pa.table({"unique_id": ids, "ds": ds.reshape(-1), "y": y.reshape(-1)}),
                   path)


def csv_copy(table: Path) -> Path:
    """The Parquet ``table`` as CSV beside it (written once, row group by row group)."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    path = table.with_suffix(".csv")
    if not path.exists():
        print(f"writing {path}", file=sys.stderr, flush=True)
        parquet = pq.ParquetFile(table)
        with pcsv.CSVWriter(path, parquet.schema_arrow) as out:
            for group in range(parquet.num_row_groups):
                out.write_table(parquet.read_row_group(group))
    return path


def warm_memory(gib: float) -> None:
    """Write ``gib`` GiB in a process of its own, then free it. On a virtual machine whose host
    backs guest memory on first touch, the first process to need more memory than was in use
    shortly before pays for it in system time (a fresh 2 GiB took 3.3 s here, a second time
    0.16 s), whichever system it is; after this, every measured process starts alike."""
    if gib > 0:
        subprocess.run([sys.executable, "-c", f"import numpy; numpy.ones({int(gib * 2**27)})"],
                       check=True)


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks forecast-scale", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    p.add_argument("--length", type=int, default=500)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--threads", type=int, default=harness.default_threads())
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--systems", nargs="+", default=["seqlstm", "neuralforecast"],
                   choices=list(SYSTEMS))
    p.add_argument("--first-read", action="store_true",
                   help="time the first read alone, in memory and streamed out of core")
    p.add_argument("--interleaved", action="store_true", help="rows ordered by time")
    p.add_argument("--csv", action="store_true", help="--first-read: the tables as CSV")
    p.add_argument("--work", type=Path, default=None, help="folder for the tables (a temp dir)")
    p.add_argument("--warm-memory", type=float, default=0, metavar="GIB",
                   help="before every measured process, write and free this much memory in a "
                        "process of its own (see warm_memory)")
    p.add_argument("--no-write", action="store_true", help="print the section only")
    return p.parse_args(argv)


def main(argv: list[str]) -> str:
    args = parse(argv)
    load, started = os.getloadavg(), report.now()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-fc-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict[int, dict[str, list[dict]]] = {}
    cache = ["--cache-dir", str(work / "cache")]  # emptied by every run: a first read
    for size in args.sizes:
        table = work / (f"series-{size}x{args.length}"
                        f"{'-interleaved' if args.interleaved else ''}.parquet")
        if not table.exists():
            print(f"writing {table}", file=sys.stderr, flush=True)
            write_table(table, size, args.length, args.seed, args.interleaved)
        if args.csv and args.first_read:
            table = csv_copy(table)

        def job(system: str, table: Path = table):
            script, peer, extra = SYSTEMS[system]
            return lambda: warm_memory(args.warm_memory) or harness.run(
                script, ["--table", str(table), "--steps", str(args.steps), "--seed",
                         str(args.seed), *(extra and [*extra, *cache])], args.threads, peer)

        def read(mode: str, table: Path = table):
            return lambda: warm_memory(args.warm_memory) or harness.run(
                "fc_scale_read.py", ["--table", str(table), "--mode", mode, *cache],
                args.threads)

        results[size] = harness.repeat(args.repeats, {m: read(m) for m in READ_MODES}
                                       if args.first_read else
                                       {s: job(s) for s in args.systems})
    if args.first_read:
        section = render_reads(args, results, load, started)
    else:
        section = render(args, results, load, started)
    if not args.no_write:
        report.write_section(f"{NAME}-first-read" if args.first_read else NAME, section)
    print(section)
    return section


def render(args: argparse.Namespace, results: dict[int, dict[str, list[dict]]],
           load: tuple[float, float, float], started) -> str:
    keys = ("prep_s", "prep_cpu_s", "prep_sys_s", "first_step_s", "steps_s", "peak_rss_mb",
            "import_rss_mb")
    rows, per_mrow, per_mrow_cpu = [], {}, {}
    for size, by_system in results.items():
        mrows = size * args.length / 1e6
        med = harness.medians(by_system, keys)
        peer = med.get("neuralforecast", {})
        for system, m in med.items():
            per_mrow[system, size] = m["prep_s"] / mrows
            per_mrow_cpu[system, size] = m["prep_cpu_s"] / mrows
            rows.append([f"{size:,} x {args.length}", system, m["prep_s"], m["prep_s"] / mrows,
                         m["prep_cpu_s"] / mrows, m["prep_sys_s"],
                         m["first_step_s"], m["steps_s"], m["peak_rss_mb"], m["import_rss_mb"],
                         report.ratio(m["first_step_s"], peer.get("first_step_s")),
                         report.ratio(m["peak_rss_mb"], peer.get("peak_rss_mb"))])
    table = report.markdown_table(
        ["series x steps", "system", "prep s", "prep s per M rows", "prep CPU s per M rows",
         "prep system CPU s", "first step s",
         f"{args.steps} steps s", "peak RSS MiB", "import RSS MiB",
         "first step / neuralforecast", "peak RSS / neuralforecast"], rows)
    sizes = sorted(results)
    base = sizes[-2] if len(sizes) > 1 else sizes[0]  # 10k x 500 = 5 M rows by default
    slopes = [f"{system}: wall {per_mrow[system, sizes[-1]] / per_mrow[system, base]:.2f}, "
              f"CPU {per_mrow_cpu[system, sizes[-1]] / per_mrow_cpu[system, base]:.2f}"
              for system in args.systems if (system, base) in per_mrow]
    versions = sorted({f"neuralforecast {r[0]['neuralforecast']}" for by in results.values()
                       for s, r in by.items() if "neuralforecast" in r[0]})
    lines = [
        "## Forecasting at scale: file to first training step", "",
        f"Long Parquet tables of S series x {args.length} steps (`unique_id, ds, y`, seed "
        f"{args.seed}); one fresh process per system and size reads the file, builds its "
        f"dataset (prep) and trains {args.steps} steps of an LSTM (hidden 32, lookback 24, "
        "horizon 12, 256 windows a batch). First step s runs from before reading the file to "
        "the start of the first training batch. Peak RSS is the process's maximum resident set "
        f"(imports included). Medians of {args.repeats} run(s) per cell"
        + (f"; before each run a process of its own wrote and freed {args.warm_memory:g} GiB "
           "(`--warm-memory`: memory the host has backed)" if args.warm_memory else "")
        + ".", "", table, "",
        f"Linearity (prep s per M rows at {sizes[-1]:,} series / at {base:,} series; "
        "target <= 1.5): "
        f"{', '.join(slopes)}.",
        f"Machine: {report.machine(args.threads, load, started)}. "
        f"Versions: {', '.join(versions) or '-'}.", "",
        f"Command: `{report.command_line()}`"]
    if report.loaded(load):
        lines += ["", "Measured while other processes shared the CPU (see the load average): "
                  "absolute numbers are noisy; the same-run ratios hold better."]
    return "\n".join(lines) + "\n"


def render_reads(args: argparse.Namespace, results: dict[int, dict[str, list[dict]]],
                 load: tuple[float, float, float], started) -> str:
    keys = ("read_s", "read_cpu_s", "peak_rss_mb", "import_rss_mb", "store_mb", "later_read_s")
    rows = []
    for size, by_mode in results.items():
        med = harness.medians(by_mode, keys)
        for mode, m in med.items():
            above = m["peak_rss_mb"] - m["import_rss_mb"]
            rows.append([f"{size:,} x {args.length}", mode, m["read_s"], m["read_cpu_s"],
                         m["peak_rss_mb"], above, m["store_mb"], above / m["store_mb"],
                         report.ratio(m["peak_rss_mb"], med["memory"]["peak_rss_mb"]),
                         m["later_read_s"]])
    table = report.markdown_table(
        ["series x steps", "first read", "read s", "read CPU s", "peak RSS MiB",
         "peak RSS above imports MiB", "store MiB", "above imports / store",
         "peak RSS / in memory", "later read s"], rows)
    order = "rows ordered by time (interleaved)" if args.interleaved else "rows grouped by series"
    lines = [
        "## Forecasting at scale: the first read out of core", "",
        f"Long {'CSV' if args.csv else 'Parquet'} tables of S series x {args.length} steps "
        f"(`unique_id, ds, y`, seed {args.seed}, {order}); one fresh process per mode calls "
        "`read_store` with an empty `cache_dir`: `memory` reads the table whole (pyarrow -> "
        "NumPy -> group -> check) and saves the store there; `streamed` "
        "(`data.out_of_core=true`) streams it in chunks of 262,144 rows straight into the "
        "memory-mapped `.npy` files. Peak RSS is the process's `VmHWM`; store MiB is what the "
        "store's arrays (values, time, offsets, rows) hold, the table's size in memory once "
        "read. Later read s maps the cache back (every later run). "
        f"Medians of {args.repeats} run(s) per cell.", "", table, "",
        f"Machine: {report.machine(args.threads, load, started)}.", "",
        f"Command: `{report.command_line()}`"]
    if report.loaded(load):
        lines += ["", "Measured while other processes shared the CPU (see the load average): "
                  "times are noisy; peak RSS does not depend on the load."]
    return "\n".join(lines) + "\n"
