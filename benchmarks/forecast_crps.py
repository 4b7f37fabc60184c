"""Probabilistic forecasting: CRPS and MAE of seqlstm's distribution heads against darts
BlockRNNModel (Gaussian likelihood), pytorch-forecasting DeepAR (Normal) and neuralforecast
LSTM (Normal ``DistributionLoss``), all on the data and test origins of ``forecast``.

Every system fits LSTM 2 x 64, dropout 0.1, lookback 48, horizon 12, batch 256, Adam 1e-3 for
the same epochs on the same standardised file, and saves the quantiles of its forecast at the
levels 0.01, 0.02, ..., 0.99 (``fc_data.LEVELS``). The scores are computed here, alike for all,
in original units: CRPS from those 99 quantiles (:func:`crps_from_quantiles`), MAE of the
median (level 0.5), and the coverage of the 80% interval (levels 0.1 to 0.9).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

from benchmarks import harness, report
from benchmarks.forecast import Scaled, build_data, data_parser, seeded_runs
from benchmarks.runners.fc_data import LEVELS

NAME = "forecast-crps"
SEQLSTM = ("fc_seqlstm.py", None, "seqlstm")
SYSTEMS = {  # label, runner, peer venv, process set-up, runner arguments
    "seqlstm-gaussian": ("seqlstm, `loss=gaussian_nll`", *SEQLSTM,
                         ["--quantiles", "--loss", "gaussian_nll"]),
    "seqlstm-student-t": ("seqlstm, `loss=student_t`", *SEQLSTM,
                          ["--quantiles", "--loss", "student_t"]),
    "seqlstm-quantile": ("seqlstm, `loss=quantile` (the 99 levels)", *SEQLSTM,
                         ["--quantiles", "--loss", "quantile"]),
    "darts": ("darts BlockRNNModel, GaussianLikelihood", "fc_darts.py", "darts", "as-written",
              ["--quantiles"]),
    "pytorch-forecasting": ("pytorch-forecasting DeepAR, NormalDistributionLoss",
                            "fc_deepar.py", "pytorch-forecasting", "as-written", []),
    "neuralforecast": ("neuralforecast LSTM, DistributionLoss('Normal')",
                       "fc_neuralforecast.py", "neuralforecast", "as-written", ["--quantiles"]),
}
PEERS = ("darts", "pytorch-forecasting", "neuralforecast")


def crps_from_quantiles(quantiles: np.ndarray, levels: np.ndarray, targets: np.ndarray
                        ) -> float:
    """Mean CRPS of forecasts given by their ``quantiles`` ``(..., Q)`` at ``levels`` ``(Q,)``
    for ``targets`` ``(...)``: ``CRPS(F, y) = 2 * integral over tau of the pinball loss of
    F^-1(tau)``, the integral taken as the mean over evenly spaced levels."""
    error = targets[..., None] - quantiles  # (..., Q)
    pinball = np.maximum(levels * error, (levels - 1) * error)
    return float(2 * pinball.mean())


def scores(scaled: Scaled, quantiles: np.ndarray) -> dict[str, float]:
    """CRPS, MAE of the median and 80% coverage of standardised ``quantiles`` ``(M, H, Q)``."""
    m, h, q = quantiles.shape
    values = scaled.unscale(quantiles.reshape(m, h * q)).reshape(m, h, q)
    truth = scaled.targets()
    median, low, high = (values[..., int(np.argmin(np.abs(LEVELS - x)))]
                         for x in (0.5, 0.1, 0.9))
    return {"crps": crps_from_quantiles(values, LEVELS, truth), "mae": scaled.mae(median),
            "mase": scaled.mase(median),
            "coverage": float(((truth >= low) & (truth <= high)).mean())}


def parse(argv: list[str]) -> argparse.Namespace:
    return data_parser("python -m benchmarks forecast-crps", __doc__, list(SYSTEMS)
                       ).parse_args(argv)


def main(argv: list[str]) -> str:
    args = parse(argv)
    load, args.started = os.getloadavg(), report.now()
    scaled = build_data(args.series, args.length, args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="bench-crps-"))
    scaled.data.save(str(tmp / "data.npz"))

    def job(system: str):
        _, script, peer, runtime, extra = SYSTEMS[system]
        runs = seeded_runs(args, tmp / "data.npz", system, script, peer, runtime, extra)

        def run() -> dict:  # round k seeds the model with seed + k
            result, out = runs()
            return result if result.get("pending") else {**result, **scores(scaled, np.load(out))}

        return run

    results = harness.repeat(args.repeats, {s: job(s) for s in args.systems})
    section = render(args, results, scaled, load, os.getloadavg())
    if not args.no_write:
        report.write_section(NAME, section)
    print(section)
    return section


def render(args: argparse.Namespace, results: dict[str, list[dict]], scaled: Scaled,
           load: tuple[float, float, float], load_end: tuple[float, float, float]) -> str:
    med = harness.medians(results, ("crps", "mae", "mase", "coverage", "fit_s"))
    peer_crps = [med[p]["crps"] for p in PEERS if med.get(p, {}).get("crps") is not None]
    peer_mae = [med[p]["mae"] for p in PEERS if med.get(p, {}).get("mae") is not None]
    best_crps, best_mae = min(peer_crps, default=None), min(peer_mae, default=None)
    rows = []
    for system, runs in results.items():
        done = [r for r in runs if not r.get("pending")]
        m = med[system]
        per_seed = " / ".join(f"{r['crps']:.3f}" for r in done) or runs[0]["pending"]
        rows.append([SYSTEMS[system][0], per_seed, m["crps"], report.ratio(m["crps"], best_crps),
                     m["mae"], report.ratio(m["mae"], best_mae), m["mase"], m["coverage"],
                     m["fit_s"], len(done)])
    naive = scaled.seasonal_naive()  # a point forecast: its CRPS is its MAE
    rows.append(["seasonal naive (a point forecast: CRPS = MAE)", "-", scaled.mae(naive), None,
                 scaled.mae(naive), None, scaled.mase(naive), None, None, "-"])
    table = report.markdown_table(
        ["system", "test CRPS per seed", "median CRPS", "CRPS / best peer", "median MAE",
         "MAE / best peer", "median MASE", "80% coverage", "fit s", "runs"], rows)
    versions = sorted({f"{k} {v}" for runs in results.values() for r in runs[:1]
                       for k, v in r.items() if k in ("torch", "lightning", "darts",
                                                      "pytorch_forecasting", "neuralforecast")})
    lines = [
        "## Probabilistic forecasting: CRPS against the peers", "",
        f"{args.series} synthetic series x {args.length} steps (period 24, seed {args.seed}) plus "
        "weekly CO2, as in [Forecasting end to end](#forecasting-end-to-end): LSTM 2 x 64, "
        f"lookback 48, horizon 12, batch 256, Adam 1e-3, {args.epochs} epochs, no validation, "
        f"{len(scaled.data.origins)} test forecasts x 12 steps. Each system trains with its "
        "likelihood and saves its forecast's quantiles at 0.01, 0.02, ..., 0.99 (closed form "
        "for seqlstm's Gaussian and quantile heads; from 200 draws for seqlstm's Student-t, "
        "darts and DeepAR; from neuralforecast's own 1,000 draws). The harness scores all "
        "alike in original units: CRPS = 2 x the mean pinball loss over those 99 levels "
        "(`benchmarks/forecast_crps.py`, tested against the closed-form Gaussian CRPS), MAE "
        "of the median, coverage of the 0.1-0.9 interval. Medians over seeds "
        f"{args.seed}-{args.seed + args.repeats - 1}, runs interleaved; ratios against the "
        "best peer's median.", "", table,
        f"Machine: {report.machine(args.threads, load, args.started)}; load average at the end "
        f"{load_end[0]:.2f}.", f"Versions: {', '.join(versions)}.", "",
        f"Command: `{report.command_line()}`"]
    return "\n".join(lines) + "\n"
