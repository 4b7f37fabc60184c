"""Does pruning pay? The same Optuna study, with and without a MedianPruner.

Runs ``seqlstm-train -m hparams_search=lm_optuna`` twice in a scratch folder, the same trials
budget and sampler seed each time, once with ``hydra.sweeper.pruner=null`` (the baseline) and
once with the search config's MedianPruner, then prints one table: trials finished, pruned,
epochs trained, summed trial time, wall time, best val/loss, and time against the baseline.

    PYTHONPATH=. python benchmarks/sweep_pruning.py [--trials 10] [--epochs 6]
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
#: a small character model on 400 kB of Python sources (offline), epochs of 12 steps
TRAIN = ["data=pystdlib", "data.path.max_bytes=400000", "data.seq_len=64", "data.batch_size=32",
         "data.windows_per_epoch=384", "+trainer.limit_val_batches=6", "callbacks=none",
         "logger=[]", "trainer.enable_progress_bar=false", "seed=1234"]
#: widen the learning rate to clearly bad corners for the pruner to find (merged into the
#: search config's params, which also sweep output dropout and embedding width)
SPACE = ["hydra.sweeper.params={model.optimizer.lr:{type:float,low:1.0e-5,high:3.0e-2,log:true},"
         "model.encoder.hidden_size:{type:categorical,choices:[64,128]}}"]


def sweep(folder: Path, name: str, trials: int, epochs: int, pruner: list[str]) -> dict:
    """Run one study; return its row for the table."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    args = [sys.executable, "-m", "seqlstm.cli.train", "-m", "hparams_search=lm_optuna", *TRAIN,
            *SPACE, f"trainer.max_epochs={epochs}", f"hydra.sweeper.n_trials={trials}",
            f"hydra.sweeper.study_name={name}", *pruner]
    start = time.perf_counter()
    subprocess.run(args, cwd=folder, env=env, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    with (folder / "logs" / "train" / "sweeps" / name / "trials.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    finished = [r for r in rows if r["state"] in ("COMPLETE", "PRUNED")]
    return {"study": name, "trials": len(finished),
            "pruned": sum(r["state"] == "PRUNED" for r in rows),
            "epochs": sum(int(r["epochs"]) for r in rows),
            "trial_s": sum(float(r["seconds"]) for r in finished), "wall_s": wall,
            "best": min(float(r["value"]) for r in rows if r["state"] == "COMPLETE")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        rows = [sweep(Path(scratch), "no_pruning", args.trials, args.epochs,
                      ["hydra.sweeper.pruner=null"]),
                sweep(Path(scratch), "median_pruner", args.trials, args.epochs, [])]
    base = rows[0]["trial_s"]
    print(f"{'study':<14} {'trials':>6} {'pruned':>6} {'epochs':>6} {'trial s':>8} "
          f"{'wall s':>7} {'best val/loss':>13} {'time vs baseline':>16}")
    for row in rows:
        print(f"{row['study']:<14} {row['trials']:>6} {row['pruned']:>6} {row['epochs']:>6} "
              f"{row['trial_s']:>8.1f} {row['wall_s']:>7.1f} {row['best']:>13.4f} "
              f"{row['trial_s'] / base:>15.2f}x")


if __name__ == "__main__":
    main()
