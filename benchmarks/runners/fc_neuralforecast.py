"""Forecasting with neuralforecast's LSTM (LSTM encoder, MLP decoder of the horizon: direct).

neuralforecast counts training in steps of ``windows_batch_size`` windows, so the runner gives it
``epochs x training windows / batch`` steps of ``batch`` windows: the same windows seen as an
epoch-based fit. With ``--quantiles`` it fits a Normal ``DistributionLoss`` and saves the
quantiles at ``fc_data.LEVELS`` that neuralforecast draws from it (its default 1,000 samples)."""

from __future__ import annotations

import math
import time

import numpy as np
from common import emit, parser, set_torch_threads
from fc_data import LEVELS, ForecastData
from fc_model import add_model_args, add_quantiles_arg, latency_ms


def frame(blocks: list[np.ndarray], names: list[str]):
    """neuralforecast's long table: ``unique_id, ds, y``."""
    import pandas as pd

    return pd.DataFrame({"unique_id": np.repeat(names, [len(b) for b in blocks]),
                         "ds": np.concatenate([np.arange(len(b)) for b in blocks]),
                         "y": np.concatenate(blocks).astype(np.float32)})


def main() -> None:
    p = parser(__doc__)
    add_model_args(p)
    add_quantiles_arg(p)
    args = p.parse_args()
    set_torch_threads(args.threads)
    import neuralforecast
    import torch
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import MAE, DistributionLoss, quantiles_to_outputs
    from neuralforecast.models import LSTM

    data = ForecastData.load(args.data)
    start = time.perf_counter()
    blocks = [data.series(i)[: data.train_end[i]] for i in range(data.n_series)]
    train = frame(blocks, [f"s{i:03d}" for i in range(data.n_series)])
    prep_s = time.perf_counter() - start
    windows = sum(len(b) - data.lookback - data.horizon + 1 for b in blocks)

    loss = DistributionLoss("Normal", quantiles=list(LEVELS)) if args.quantiles else MAE()
    model = LSTM(
        h=data.horizon, input_size=data.lookback, encoder_n_layers=args.layers,
        encoder_hidden_size=args.hidden, encoder_dropout=args.dropout,
        decoder_hidden_size=args.hidden, decoder_layers=1, loss=loss, learning_rate=args.lr,
        max_steps=math.ceil(args.epochs * windows / args.batch), batch_size=data.n_series,
        windows_batch_size=args.batch, scaler_type="identity", random_seed=args.seed,
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_checkpointing=False,
        enable_model_summary=False)
    forecaster = NeuralForecast(models=[model], freq=1)
    start = time.perf_counter()
    forecaster.fit(df=train)
    fit_s = time.perf_counter() - start

    inputs, _ = data.windows(data.origin_starts())
    names = [f"o{k:06d}" for k in range(len(inputs))]
    start = time.perf_counter()
    out = forecaster.predict(df=frame(list(inputs), names))
    out = out.sort_values(["unique_id", "ds"])
    if args.quantiles:  # one column per level: LSTM-lo-98.0 ... LSTM-median ... LSTM-hi-98.0
        columns = [f"LSTM{name}" for name in quantiles_to_outputs(list(LEVELS))[1]]
        predictions = out[columns].to_numpy().reshape(len(inputs), data.horizon, len(LEVELS))
    else:
        predictions = out["LSTM"].to_numpy().reshape(len(inputs), data.horizon)
    predict_s = time.perf_counter() - start
    np.save(args.out, predictions)

    history = data.series(0)[: data.train_end[0]]

    def single() -> np.ndarray:
        return forecaster.predict(df=frame([history[-data.lookback :]], ["one"]))["LSTM"]

    emit({"prep_s": prep_s, "fit_s": fit_s, "train_windows": windows, "predict_s": predict_s,
          "latency_ms": latency_ms(single, calls=10),
          "neuralforecast": neuralforecast.__version__, "torch": torch.__version__})


if __name__ == "__main__":
    main()
