"""seqlstm: a rolling-origin backtest of an LSTM forecaster (training not timed)."""

from __future__ import annotations

import tempfile
import time

from common import emit, parser, set_torch_threads


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--table", required=True)
    p.add_argument("--id-column", default=None)
    p.add_argument("--folds", type=int, default=20)
    p.add_argument("--step", type=int, default=4)
    p.add_argument("--lookback", type=int, default=104)
    p.add_argument("--horizon", type=int, default=13)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--train-batches", type=int, default=50)
    p.add_argument("--calls", type=int, default=10)
    args = p.parse_args()
    set_torch_threads(args.threads)
    import lightning as L
    import torch

    from seqlstm.backtesting import CHUNK, FORECAST_THREADS, run_backtest, write_backtest
    from seqlstm.data import TimeSeriesDataModule
    from seqlstm.data.series.backtest import backtest_windows
    from seqlstm.runtime import intra_op_threads
    from seqlstm.tasks import Forecaster

    L.seed_everything(args.seed, verbose=False)
    dm = TimeSeriesDataModule(args.table, targets=["y"], id_column=args.id_column,
                              lookback=args.lookback, horizon=args.horizon, batch_size=64)
    dm.setup("fit")
    task = Forecaster(spec=dm.spec.as_dict(), encoder={"hidden_size": args.hidden})
    L.Trainer(max_epochs=1, limit_train_batches=args.train_batches, limit_val_batches=0,
              logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, accelerator="cpu").fit(task, datamodule=dm)
    times = []
    for _ in range(args.calls):  # the first call also pays one-off set-up; the best: steady cost
        start = time.perf_counter()
        result = run_backtest(task, dm, args.folds, args.step)
        times.append(time.perf_counter() - start)
    network = []  # the forward passes alone, over the same windows in the same passes
    windows = backtest_windows(dm, args.folds, args.step).windows
    batches = [task.with_defaults(windows.__getitems__(chunk))
               for chunk in torch.arange(len(windows)).split(CHUNK)]
    with torch.inference_mode(), intra_op_threads(FORECAST_THREADS):
        for _ in range(args.calls):
            start = time.perf_counter()
            for batch in batches:
                task.step_outputs(batch, "test")
            network.append(time.perf_counter() - start)
    start = time.perf_counter()  # what seqlstm-backtest adds: the CSV files and the figure
    write_backtest(result, tempfile.mkdtemp(prefix="backtest-"), dm)
    emit({"backtest_s": min(times), "first_call_s": times[0], "network_s": min(network),
          "write_s":
          time.perf_counter() - start, "forecasts": len(result.series),
          "mae": float(result.folds["mae"].mean())})


if __name__ == "__main__":
    main()
