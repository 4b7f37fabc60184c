"""Per-step overhead of seqlstm's Lightning set-up over the bare model, on a forecasting step.

The forecasting benchmark's model and data (LSTM 2 x 64, lookback 48, horizon 12, batch 256,
Adam 1e-3, L1 loss, direct strategy): seqlstm's Forecaster fitted by the Lightning Trainer as
``seqlstm-train`` builds it (the CSV logger on; checkpoints and progress bar off), against a
bare loop over the same DataLoader calling the same task's ``step_outputs`` and ``loss`` with a
plain optimiser. Each step is timed from one step's end to the next (data loading counts); the
table gives medians after the warm-up steps. ``--profile`` adds the functions where the
Trainer's extra time goes (cProfile, cumulative).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch

from benchmarks import harness, report
from benchmarks.forecast import build_data
from benchmarks.runners.seqlstm_run import compose_run

NAME = "step-overhead"


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks step-overhead", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=60, help="timed steps per system")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians)")
    p.add_argument("--threads", type=int, default=harness.default_threads())
    p.add_argument("--profile", action="store_true", help="print where the Trainer's time goes")
    p.add_argument("--no-write", action="store_true", help="print the section only")
    return p.parse_args(argv)


class StepTimes(L.Callback):
    """Wall time from one training step's end to the next, and the part of it spent between
    a step's end and the next step's start (data loading, moving the batch, the loop's hooks)."""

    def __init__(self) -> None:
        self.ends: list[float] = []
        self.gaps: list[float] = []

    def on_train_batch_start(self, *args, **kwargs) -> None:
        if self.ends:
            self.gaps.append(time.perf_counter() - self.ends[-1])

    def on_train_batch_end(self, *args, **kwargs) -> None:
        self.ends.append(time.perf_counter())


def timed(fn, into: list[float]):
    """``fn``, appending the wall time of every call to ``into``."""

    def call(*args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        into.append(time.perf_counter() - start)
        return result

    return call


def build(series: int, steps: int, out: Path):
    """The benchmark's forecasting config, data module and a fresh Forecaster."""
    from seqlstm.cli.builders import build_datamodule, data_record
    from seqlstm.configs import plain
    from seqlstm.tasks import build_task

    scaled = build_data(series, 2000, seed=0)
    data = scaled.data
    frame = pd.DataFrame({"series": np.repeat(np.arange(data.n_series), np.diff(data.offsets)),
                          "value": data.values})
    overrides = [
        "model=stacked_lstm", "data=timeseries", "data.path=in-memory", "data.targets=[value]",
        "data.id_column=series", "data.lookback=48", "data.horizon=12", "data.batch_size=256",
        "data.split=[0.8,0.1,0.1]", "model.encoder.hidden_size=64", "model.encoder.num_layers=2",
        "model.encoder.dropout=0.1", "model.encoder.output_dropout=0", "model.optimizer.lr=1e-3",
        "model.task_options.real.strategy=direct", "model.task_options.real.loss=mae",
        "callbacks=none", "trainer.gradient_clip_val=null", "trainer.enable_progress_bar=false",
        f"+trainer.max_steps={steps}", "+trainer.limit_val_batches=0",
        "+trainer.enable_model_summary=false", "seed=0"]
    cfg = compose_run(overrides, out)
    datamodule = build_datamodule(cfg.data, path=frame)
    datamodule.setup("fit")
    return cfg, datamodule, build_task(plain(cfg.model), datamodule.spec,
                                       data_record(datamodule))


def bare_steps(datamodule, model, steps: int) -> list[float]:
    """Step end times of a plain loop: the task's own outputs and loss, no Trainer."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    ends: list[float] = []
    while len(ends) < steps:
        for batch in datamodule.train_dataloader():
            loss = model.loss(model.step_outputs(batch, "train"), batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            ends.append(time.perf_counter())
            if len(ends) == steps:
                break
    return ends


def trainer_steps(cfg, datamodule, model, profile: cProfile.Profile | None,
                  parts: dict[str, list[float]]) -> list[float]:
    """Step end times of ``trainer.fit``; ``parts`` gets the time of the task's per-step
    bookkeeping (``record``: metric updates and the logged loss) and of the work between steps
    (data loading included, which the bare loop does too)."""
    from seqlstm.cli.builders import build_loggers, build_trainer

    clock = StepTimes()
    model.record = timed(model.record, parts.setdefault("record", []))
    trainer = build_trainer(cfg, [clock], build_loggers(cfg.get("logger")))
    if profile:
        profile.enable()
    trainer.fit(model, datamodule=datamodule)
    if profile:
        profile.disable()
    parts.setdefault("between", []).extend(clock.gaps)
    return clock.ends


def step_ms(ends: list[float], warmup: int) -> float:
    return 1000 * statistics.median(np.diff(ends[warmup:]))


def main(argv: list[str]) -> str:
    args = parse(argv)
    torch.set_num_threads(args.threads)
    load, started = os.getloadavg(), report.now()
    out = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    total = args.warmup + args.steps + 1
    times: dict[str, list[float]] = {"bare": [], "trainer": []}
    profile = cProfile.Profile() if args.profile else None
    parts: dict[str, list[float]] = {}
    for round_ in range(args.rounds):
        print(f"[{round_ + 1}/{args.rounds}]", file=sys.stderr, flush=True)
        cfg, datamodule, model = build(50, total, out / f"bare{round_}")
        times["bare"].append(step_ms(bare_steps(datamodule, model, total), args.warmup))
        cfg, datamodule, model = build(50, total, out / f"trainer{round_}")
        times["trainer"].append(step_ms(trainer_steps(cfg, datamodule, model,
                                                      profile if round_ == 0 else None,
                                                      parts),
                                        args.warmup))
    bare, full = statistics.median(times["bare"]), statistics.median(times["trainer"])
    record, between = (1000 * statistics.median(parts[k][args.warmup:])
                       for k in ("record", "between"))
    rows = [["bare loop (same task, same DataLoader)", bare, "-"],
            ["Lightning Trainer as seqlstm-train builds it", full, full - bare],
            ["  of which: the task's record() (metric updates, self.log of the loss)", record,
             record],
            ["  of which: step end to next step start (data, batch move, hooks)", between, "-"]]
    table = report.markdown_table(["system", "ms per step (median)", "overhead ms"], rows)
    lines = ["## Per-step overhead over the bare model (forecasting step)", "",
             "LSTM 2 x 64, lookback 48, horizon 12, batch 256, L1 loss, Adam; each step timed "
             "from one step's end to the next, data loading included; medians of "
             f"{args.rounds} interleaved rounds of {args.steps} steps after {args.warmup} warm-up "
             "steps, per-round values: bare "
             + ", ".join(f"{v:.2f}" for v in times["bare"]) + " ms; Trainer "
             + ", ".join(f"{v:.2f}" for v in times["trainer"]) + " ms. The difference of two "
             "medians moves with the machine's load; the two parts below it are timed inside "
             "the Trainer's steps (medians over all rounds) and hold better.", "", table,
             f"Machine: {report.machine(args.threads, load, started)}.", "",
             f"Command: `{report.command_line()}`"]
    if report.loaded(load):
        lines += ["", "Measured while other processes shared the CPU (see the load average)."]
    section = "\n".join(lines) + "\n"
    if profile:
        stream = io.StringIO()
        pstats.Stats(profile, stream=stream).sort_stats("cumulative").print_stats(45)
        print(stream.getvalue(), file=sys.stderr)
    if not args.no_write:
        report.write_section(NAME, section)
    print(section)
    return section
