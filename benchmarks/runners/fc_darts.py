"""Forecasting with darts' BlockRNNModel (LSTM encoder, direct multi-step output block); with
``--quantiles`` it fits a Gaussian likelihood and saves quantiles of ``fc_data.SAMPLES`` draws."""

from __future__ import annotations

import time

import numpy as np
from common import emit, parser, set_torch_threads
from fc_data import SAMPLES, ForecastData, sample_quantiles
from fc_model import add_model_args, add_quantiles_arg, latency_ms


def main() -> None:
    p = parser(__doc__)
    add_model_args(p)
    add_quantiles_arg(p)
    args = p.parse_args()
    set_torch_threads(args.threads)
    import darts
    import torch
    from darts import TimeSeries
    from darts.models import BlockRNNModel
    from darts.utils.likelihood_models import GaussianLikelihood

    data = ForecastData.load(args.data)
    start = time.perf_counter()
    train = [TimeSeries.from_values(data.series(i)[: data.train_end[i]])
             for i in range(data.n_series)]
    prep_s = time.perf_counter() - start

    model = BlockRNNModel(
        input_chunk_length=data.lookback, output_chunk_length=data.horizon, model="LSTM",
        hidden_dim=args.hidden, n_rnn_layers=args.layers, dropout=args.dropout,
        batch_size=args.batch, n_epochs=args.epochs, optimizer_kwargs={"lr": args.lr},
        **({"likelihood": GaussianLikelihood()} if args.quantiles else
           {"loss_fn": torch.nn.L1Loss()}), random_state=args.seed,
        pl_trainer_kwargs={"accelerator": "cpu", "enable_progress_bar": False,
                           "enable_model_summary": False, "logger": False})
    start = time.perf_counter()
    model.fit(train, verbose=False)
    fit_s = time.perf_counter() - start

    inputs, _ = data.windows(data.origin_starts())
    start = time.perf_counter()
    forecasts = model.predict(n=data.horizon, series=[TimeSeries.from_values(x) for x in inputs],
                              batch_size=4096, num_samples=SAMPLES if args.quantiles else 1,
                              verbose=False)
    if args.quantiles:  # (M, horizon, S) draws
        predictions = sample_quantiles(np.stack([f.all_values()[:, 0] for f in forecasts]))
    else:
        predictions = np.stack([f.values()[:, 0] for f in forecasts])
    predict_s = time.perf_counter() - start
    np.save(args.out, predictions)

    history = data.series(0)[: data.train_end[0]]

    def single() -> np.ndarray:
        series = TimeSeries.from_values(history[-data.lookback :])
        return model.predict(n=data.horizon, series=series, verbose=False).values()[:, 0]

    windows = sum(len(s) - data.lookback - data.horizon + 1 for s in train)
    emit({"prep_s": prep_s, "fit_s": fit_s, "train_windows": windows, "predict_s": predict_s,
          "latency_ms": latency_ms(single, calls=20), "darts": darts.__version__,
          "torch": torch.__version__})


if __name__ == "__main__":
    main()
