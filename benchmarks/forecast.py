"""Forecasting end to end: seqlstm vs a hand-written loop, a bare Lightning Trainer and the
peers (darts BlockRNNModel, pytorch-forecasting RecurrentNetwork, neuralforecast LSTM).

Data: 50 seeded synthetic series x 2,000 steps (period 24, trend, AR(1) noise) plus statsmodels'
weekly CO2 series. Each series is standardised with its training split's mean and deviation
(first 80% of its steps); the test forecasts start every ``horizon`` steps over the last 20%.
Every system gets the same standardised file, fits LSTM 2 x 64, dropout 0.1, lookback 48,
horizon 12 (direct where the library offers it), batch 256, Adam 1e-3, L1 loss, for 3 epochs
without validation, and returns its test forecasts; MAE is computed here, in original units.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks import harness, report
from benchmarks.runners.fc_data import ForecastData
from benchmarks.synthetic import co2_weekly, synthetic_panel

NAME = "forecast"
LOOKBACK, HORIZON, TRAIN_FRACTION = 48, 12, 0.8
SYSTEMS = {  # label, runner, peer venv, process set-up (harness.RUNTIMES)
    "torch": ("hand-written PyTorch loop (reference; glibc malloc, OpenMP defaults)",
              "fc_torch.py", None, "as-written"),
    "torch-tuned": ("hand-written PyTorch loop + seqlstm's process set-up", "fc_torch.py", None,
                    "seqlstm"),
    "lightning": ("bare Lightning Trainer, same model", "fc_lightning.py", None, "as-written"),
    "seqlstm": ("seqlstm (TimeSeriesDataModule + Forecaster)", "fc_seqlstm.py", None,
                "seqlstm"),
    "darts": ("darts BlockRNNModel", "fc_darts.py", "darts", "as-written"),
    "pytorch-forecasting": ("pytorch-forecasting RecurrentNetwork", "fc_ptf.py",
                            "pytorch-forecasting", "as-written"),
    "neuralforecast": ("neuralforecast LSTM", "fc_neuralforecast.py", "neuralforecast",
                       "as-written"),
}
#: the runners that also time the fp32 matmul (the ceiling), and its size
CEILING_SYSTEMS, MATMUL = ("torch", "torch-tuned"), 2048
PEERS = ("darts", "pytorch-forecasting", "neuralforecast")


class Scaled:
    """The benchmark's series, their standardisation and the test targets in original units."""

    def __init__(self, series: list[np.ndarray], periods: list[int]) -> None:
        train_end = np.array([int(len(s) * TRAIN_FRACTION) for s in series])
        self.mean = np.array([s[:n].mean() for s, n in zip(series, train_end, strict=True)])
        self.std = np.array([s[:n].std() for s, n in zip(series, train_end, strict=True)])
        scaled = [(s - m) / d for s, m, d in zip(series, self.mean, self.std, strict=True)]
        origins = [(i, t) for i, s in enumerate(series)
                   for t in range(train_end[i], len(s) - HORIZON + 1, HORIZON)]
        self.data = ForecastData(
            values=np.concatenate(scaled).astype(np.float32),
            offsets=np.cumsum([0] + [len(s) for s in series]), train_end=train_end,
            periods=np.array(periods), origins=np.array(origins), lookback=LOOKBACK,
            horizon=HORIZON)
        self.raw = np.concatenate(series)

    def unscale(self, predictions: np.ndarray) -> np.ndarray:
        which = self.data.origins[:, 0]
        return predictions * self.std[which, None] + self.mean[which, None]

    def targets(self) -> np.ndarray:
        """Test targets ``(M, horizon)`` in original units."""
        starts = self.data.origin_starts() + LOOKBACK
        return self.raw[starts[:, None] + np.arange(HORIZON)]

    def seasonal_naive(self) -> np.ndarray:
        """Each forecast step repeats the value one season earlier (period >= horizon)."""
        period = self.data.periods[self.data.origins[:, 0]]
        starts = self.data.origin_starts() + LOOKBACK - period
        return self.raw[starts[:, None] + np.arange(HORIZON)]

    def mae(self, forecasts: np.ndarray) -> float:
        return float(np.abs(forecasts - self.targets()).mean())

    def mase(self, forecasts: np.ndarray) -> float:
        """MAE over the mean in-sample seasonal-naive MAE of each series' training split."""
        data, scales = self.data, []
        for i in range(data.n_series):
            raw = self.raw[data.offsets[i] : data.offsets[i] + data.train_end[i]]
            p = data.periods[i]
            scales.append(np.abs(raw[p:] - raw[:-p]).mean())
        per_origin = np.abs(forecasts - self.targets()).mean(axis=1)
        return float((per_origin / np.array(scales)[data.origins[:, 0]]).mean())


def build_data(n_series: int, length: int, seed: int) -> Scaled:
    panel = synthetic_panel(n_series, length, period=24, seed=seed)
    co2, period = co2_weekly()
    return Scaled([*panel, co2], [24] * n_series + [period])


def data_parser(prog: str, description: str | None, systems: list[str]
                ) -> argparse.ArgumentParser:
    """The options of every benchmark on this data: threads, repeats, epochs, the data's
    size and seed, the systems, ``--no-write``."""
    p = argparse.ArgumentParser(prog=prog, description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=harness.default_threads())
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--series", type=int, default=50, help="synthetic series")
    p.add_argument("--length", type=int, default=2000, help="steps per synthetic series")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--systems", nargs="+", default=systems, choices=systems)
    p.add_argument("--no-write", action="store_true", help="print the section only")
    return p


def seeded_runs(args: argparse.Namespace, data: Path, system: str, script: str,
                peer: str | None, runtime: str, extra: list[str]
                ) -> Callable[[], tuple[dict, Path]]:
    """A job for :func:`harness.repeat`: its k-th call runs ``system``'s ``script`` with seed
    ``args.seed + k`` on ``data`` and returns the runner's result and the forecasts file it
    wrote; a failure is returned as ``{"pending": "failed: ..."}`` so that one peer cannot lose
    the others' runs."""
    counter = iter(range(1000))

    def run() -> tuple[dict, Path]:
        index = next(counter)
        out = data.parent / f"{system}-{index}.npy"
        try:
            result = harness.run(script, ["--data", str(data), "--out", str(out), "--epochs",
                                          str(args.epochs), "--seed", str(args.seed + index),
                                          *extra], args.threads, peer, runtime=runtime)
        except RuntimeError as err:
            print(err, file=sys.stderr)
            return {"pending": "failed: " + str(err).strip().splitlines()[-1][:150]}, out
        return {**result, "seed": args.seed + index}, out

    return run


def parse(argv: list[str]) -> argparse.Namespace:
    p = data_parser("python -m benchmarks forecast", __doc__, list(SYSTEMS))
    p.add_argument("--section", default=NAME, help="the docs/benchmarks.md section written")
    return p.parse_args(argv)


def main(argv: list[str]) -> str:
    args = parse(argv)
    load, args.started = os.getloadavg(), report.now()
    scaled = build_data(args.series, args.length, args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="bench-fc-"))
    scaled.data.save(str(tmp / "data.npz"))

    def job(system: str):
        _, script, peer, runtime = SYSTEMS[system]
        extra = ["--matmul", str(MATMUL)] if system in CEILING_SYSTEMS else []
        runs = seeded_runs(args, tmp / "data.npz", system, script, peer, runtime, extra)

        def run() -> dict:  # round k seeds the model with seed + k: the MAE median spans seeds
            result, out = runs()
            if not result.get("pending"):
                forecasts = scaled.unscale(np.load(out))
                result.update(mae=scaled.mae(forecasts), mase=scaled.mase(forecasts))
                result["windows_per_s"] = result["train_windows"] * args.epochs / result["fit_s"]
            return result

        return run

    results = harness.repeat(args.repeats, {s: job(s) for s in args.systems})
    naive = scaled.seasonal_naive()
    section = render(args, results, scaled.mae(naive), scaled.mase(naive), scaled, load,
                     os.getloadavg())
    if not args.no_write:
        report.write_section(args.section, section)
    print(section)
    return section


def lstm_train_flops_per_window(hidden: int = 64, layers: int = 2) -> float:
    """Matmul FLOPs of one training window: the LSTM over the lookback and the direct head,
    3 x forward (backward costs two forwards)."""
    step = sum(2 * 4 * hidden * ((1 if i == 0 else hidden) + hidden) for i in range(layers))
    return 3.0 * (LOOKBACK * step + 2 * hidden * HORIZON)


def render(args: argparse.Namespace, results: dict[str, list[dict]], naive_mae: float,
           naive_mase: float, scaled: Scaled, load: tuple[float, float, float],
           load_end: tuple[float, float, float]) -> str:
    med = harness.medians(results, ("prep_s", "fit_s", "windows_per_s", "predict_s",
                                    "latency_ms", "mae", "mase", "peak_rss_mb", "sys_share",
                                    "minflt"))
    flops = [r["matmul_flops"] for s in CEILING_SYSTEMS for r in results.get(s, [])
             if "matmul_flops" in r]
    ceiling = max(flops) if flops else None  # the best run: load only ever slows a matmul
    rss_base = med.get("torch", {}).get("peak_rss_mb")
    reference = med.get("torch", {}).get("windows_per_s")
    peers = [med[p]["windows_per_s"] for p in PEERS if p in med and med[p]["windows_per_s"]]
    rows = []
    for system, runs in results.items():
        m = med[system]
        if runs[0].get("pending"):
            note = runs[0]["pending"]
            rows.append([SYSTEMS[system][0], *[None] * 14,
                         note if note.startswith("failed") else f"pending: {note}"])
            continue
        rows.append([SYSTEMS[system][0], m["prep_s"], m["fit_s"], m["windows_per_s"],
                     report.ratio(m["windows_per_s"], reference),
                     report.ratio(m["windows_per_s"], max(peers)) if peers else None,
                     report.ratio(lstm_train_flops_per_window() * m["windows_per_s"], ceiling)
                     if m["windows_per_s"] else None,
                     None if m["sys_share"] is None else 100 * m["sys_share"], m["minflt"],
                     m["predict_s"], m["latency_ms"], m["mae"], m["mase"], m["peak_rss_mb"],
                     report.ratio(m["peak_rss_mb"], rss_base), len(runs)])
    rows.append(["seasonal naive", *[None] * 10, naive_mae, naive_mase, None, None, "-"])
    table = report.markdown_table(
        ["system", "data prep s", "fit s", "windows/s", "x reference", "x fastest peer",
         "x fp32 matmul", "system CPU % (fit)", "minor faults (fit)",
         f"predict s ({len(scaled.data.origins)} forecasts)", "single forecast ms",
         "test MAE", "test MASE", "peak RSS MiB", "RSS x reference", "runs"], rows)
    versions = sorted({f"{k} {v}" for runs in results.values() for r in runs[:1]
                       for k, v in r.items() if k in ("torch", "lightning", "darts", "keras",
                                                      "pytorch_forecasting", "neuralforecast")})
    n_windows = next((r[0]["train_windows"] for r in results.values()
                      if not r[0].get("pending")), None)
    lines = [
        "## Forecasting end to end", "",
        f"{args.series} synthetic series x {args.length} steps (period 24, trend, AR(1) noise, "
        f"seed {args.seed}) plus statsmodels' weekly CO2 (2,284 weeks, period 52); first 80% of "
        "each series for training, standardised with its own training mean and deviation. "
        f"LSTM 2 x 64, dropout 0.1, lookback {LOOKBACK}, horizon {HORIZON}, batch 256, Adam 1e-3, "
        f"L1 loss, {args.epochs} epochs of {n_windows} training windows, no validation. "
        "Fit s is the wall time of the library's fit call; windows/s = epochs x windows / fit s. "
        f"Predict s forecasts all {len(scaled.data.origins)} test origins (every {HORIZON} steps "
        "over the last 20%); single forecast ms is the median wall time of one forecast from "
        "the last 48 values. MAE in original units over all test forecasts; MASE scales each "
        "series by its in-sample seasonal-naive MAE. Medians over runs, runs interleaved; "
        f"run k of every system seeds its model and shuffling with {args.seed} + k. "
        "x fp32 matmul divides a system's achieved FLOP/s "
        f"({lstm_train_flops_per_window() / 1e6:.2f} MFLOP per training window) by a "
        f"{MATMUL} x {MATMUL} fp32 matmul's in the hand-written processes of the same run"
        + (f" ({ceiling / 1e9:.1f} GFLOP/s)" if ceiling else "") + "; system CPU % "
        "(system / (user + system)) and minor page faults (`resource.getrusage`) cover the fit "
        "call of the runners that report them. \"seqlstm's process set-up\" is what every "
        "seqlstm console script does (seqlstm/runtime.py: glibc `mallopt`, "
        "`GOMP_SPINCOUNT=1000`); the reference and the peers run as scripts do by default. "
        "seqlstm runs its default forecaster options (RevIN, by `normalization: auto`), with "
        "`data.season` the most common period (24).",
        "", table,
        f"Machine: {report.machine(args.threads, load, args.started)}; load average at the end "
        f"{load_end[0]:.2f}.", f"Versions: {', '.join(versions)}.", "",
        f"Command: `{report.command_line()}`"]
    if report.loaded(load):  # the end load counts the benchmark's own processes
        lines += ["", "Measured while other processes shared the CPU (see the load averages): "
                  "absolute numbers are low and noisy, the ratios hold better."]
    return "\n".join(lines) + "\n"
