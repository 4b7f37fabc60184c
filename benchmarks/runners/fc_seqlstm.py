"""Forecasting with seqlstm: TimeSeriesDataModule + Forecaster (direct strategy), composed from
``conf/train.yaml`` and fitted by the Lightning Trainer as ``seqlstm-train`` builds them
(checkpoint callbacks and progress bar off; gradient clipping off, as in the baselines), then
forecasting through the Trainer-free ``Predictor`` (which applies each series' fitted scaler).
With ``--quantiles`` and a probabilistic ``--loss`` it saves the forecast's quantiles at
``fc_data.LEVELS`` (closed form for ``gaussian_nll`` and ``quantile``, else from
``fc_data.SAMPLES`` draws)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from common import emit, parser, set_torch_threads, synchronize, usage, usage_between
from fc_data import LEVELS, SAMPLES, ForecastData
from fc_model import add_model_args, add_quantiles_arg, latency_ms
from seqlstm_run import compose_run

from seqlstm.cli.builders import build_datamodule, build_loggers, build_trainer, data_record
from seqlstm.configs import plain
from seqlstm.inference import Predictor
from seqlstm.tasks import build_task


def main() -> None:
    p = parser(__doc__)
    add_model_args(p)
    add_quantiles_arg(p)
    p.add_argument("--loss", default="mae", help="model.task_options.real.loss")
    p.add_argument("--override", action="append", default=[],
                   help="an extra Hydra override of the seqlstm config (repeatable)")
    args = p.parse_args()
    set_torch_threads(args.threads)
    data = ForecastData.load(args.data)
    out = Path(tempfile.mkdtemp(prefix="seqlstm-bench-"))
    test_fraction = 1 - float(data.train_end[0]) / len(data.series(0))
    overrides = [
        "model=stacked_lstm", "data=timeseries", "data.path=in-memory", "data.targets=[value]",
        "data.id_column=series", f"data.lookback={data.lookback}",
        f"data.horizon={data.horizon}", f"data.batch_size={args.batch}",
        # the season of the data config: the most common period among the series
        f"data.season={int(np.bincount(data.periods).argmax())}",
        # the benchmark trains on each series' first 80%; a sliver of validation is required
        f"data.split=[{1 - test_fraction},{test_fraction / 2},{test_fraction / 2}]",
        f"model.encoder.hidden_size={args.hidden}", f"model.encoder.num_layers={args.layers}",
        f"model.encoder.dropout={args.dropout}", "model.encoder.output_dropout=0",
        f"model.optimizer.lr={args.lr}", "model.task_options.real.strategy=direct",
        f"model.task_options.real.loss={args.loss}", "callbacks=none",
        "trainer.gradient_clip_val=null",
        "trainer.enable_progress_bar=false", f"trainer.max_epochs={args.epochs}",
        "+trainer.limit_val_batches=0", "+trainer.enable_model_summary=false",
        f"seed={args.seed}", *(["trainer=gpu"] if args.device.startswith("cuda") else []),
        *([f"model.task_options.real.quantiles=[{','.join(f'{q:g}' for q in LEVELS)}]",
           f"model.task_options.real.num_samples={SAMPLES}"] if args.quantiles else []),
        *args.override,
    ]
    cfg = compose_run(overrides, out)

    start = time.perf_counter()
    frame = pd.DataFrame({
        "series": np.repeat(np.arange(data.n_series), np.diff(data.offsets)),
        "value": data.values})
    datamodule = build_datamodule(cfg.data, path=frame)
    datamodule.setup("fit")
    prep_s = time.perf_counter() - start

    model = build_task(plain(cfg.model), datamodule.spec, data_record(datamodule))
    trainer = build_trainer(cfg, [], build_loggers(cfg.get("logger")))
    start, fit_usage = time.perf_counter(), usage()
    trainer.fit(model, datamodule=datamodule)
    synchronize(args.device)
    fit_s = time.perf_counter() - start
    fit_usage = usage_between(fit_usage, usage())

    # the library's Trainer-free path: scales, forecasts, unscales
    predictor = Predictor(model, args.device)
    inputs, _ = data.windows(data.origin_starts())  # (M, lookback) in the file's units
    owners = data.origins[:, 0]
    start = time.perf_counter()
    shape = (len(inputs), data.horizon, *([len(LEVELS)] if args.quantiles else []))
    predictions = np.empty(shape, np.float32)
    for series in np.unique(owners):
        rows = np.flatnonzero(owners == series)
        forecast = predictor.forecast(inputs[rows, :, None], series=int(series))
        if args.quantiles:  # (rows, horizon, Q)
            predictions[rows] = torch.stack([forecast[f"q{q:g}"][..., 0] for q in LEVELS],
                                            -1).cpu().numpy()
        else:
            predictions[rows] = forecast["mean"][..., 0].cpu().numpy()  # (rows, horizon)
    predict_s = time.perf_counter() - start
    np.save(args.out, predictions)
    history = data.series(0)[: data.train_end[0]]
    emit({"prep_s": prep_s, "fit_s": fit_s, **fit_usage,
          "train_windows": len(datamodule.train_dataloader().dataset), "predict_s": predict_s,
          "latency_ms": latency_ms(lambda: predictor.forecast(history[-data.lookback :, None],
                                                              series=0)),
          "torch": torch.__version__, "lightning": L.__version__})


if __name__ == "__main__":
    main()
