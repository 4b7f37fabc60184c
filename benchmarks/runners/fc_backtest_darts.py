"""darts: ``historical_forecasts`` of a BlockRNNModel (LSTM) over the same origins (training
not timed; ``retrain=False``: the same fitted model at every origin)."""

from __future__ import annotations

import time

import numpy as np
from common import emit, parser, set_torch_threads


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--table", required=True)
    p.add_argument("--id-column", default=None)
    p.add_argument("--first-origin", type=int, required=True)
    p.add_argument("--train-end", type=int, required=True)
    p.add_argument("--folds", type=int, default=20)
    p.add_argument("--step", type=int, default=4)
    p.add_argument("--lookback", type=int, default=104)
    p.add_argument("--horizon", type=int, default=13)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--train-batches", type=int, default=50)
    p.add_argument("--calls", type=int, default=10)
    args = p.parse_args()
    set_torch_threads(args.threads)
    import darts
    import pandas as pd
    from darts import TimeSeries
    from darts.models import BlockRNNModel

    table = pd.read_csv(args.table)
    groups = [g for _, g in table.groupby(args.id_column, sort=False)] if args.id_column \
        else [table]
    values = [g["y"].to_numpy(np.float32) for g in groups]  # every series, equal lengths
    stats = [(v[: args.train_end].mean(), v[: args.train_end].std()) for v in values]
    series = [TimeSeries.from_values((v - m) / s) for v, (m, s) in zip(values, stats, strict=True)]
    model = BlockRNNModel(input_chunk_length=args.lookback, output_chunk_length=args.horizon,
                          model="LSTM", hidden_dim=args.hidden, n_rnn_layers=1, batch_size=64,
                          n_epochs=1, random_state=args.seed,
                          pl_trainer_kwargs={"accelerator": "cpu", "enable_progress_bar": False,
                                             "enable_model_summary": False, "logger": False,
                                             "limit_train_batches": args.train_batches})
    model.fit([s[: args.train_end] for s in series], verbose=False)
    last = args.first_origin + (args.folds - 1) * args.step + args.horizon
    times = []
    for _ in range(args.calls):  # the first call also pays one-off set-up; the best: steady cost
        start = time.perf_counter()
        forecasts = model.historical_forecasts(
            [s[:last] for s in series], start=args.first_origin, start_format="position",
            forecast_horizon=args.horizon, stride=args.step, retrain=False,
            last_points_only=False, verbose=False)
        times.append(time.perf_counter() - start)
    errors = [np.abs(f.values()[:, 0] * s + m
                     - v[args.first_origin + k * args.step:][: args.horizon]).mean()
              for fs, v, (m, s) in zip(forecasts, values, stats, strict=True)
              for k, f in enumerate(fs)]
    emit({"backtest_s": min(times), "first_call_s": times[0], "forecasts": len(errors),
          "mae": float(np.mean(errors)), "darts": darts.__version__})


if __name__ == "__main__":
    main()
