"""Forecasting with pytorch-forecasting's RecurrentNetwork (LSTM encoder; its decoder runs
autoregressively over the horizon: the library has no direct output for this model)."""

from __future__ import annotations

import time

import numpy as np
from common import emit, parser, set_torch_threads
from fc_data import ForecastData
from fc_model import add_model_args, latency_ms


def frame(blocks: list[np.ndarray], names: list[str]):
    """Long table ``series, time_idx, value`` of one block of values per name."""
    import pandas as pd

    return pd.DataFrame({"series": np.repeat(names, [len(b) for b in blocks]),
                         "time_idx": np.concatenate([np.arange(len(b)) for b in blocks]),
                         "value": np.concatenate(blocks).astype(np.float32)})


def main() -> None:
    p = parser(__doc__)
    add_model_args(p)
    args = p.parse_args()
    set_torch_threads(args.threads)
    import lightning as L
    import pytorch_forecasting
    import torch
    from pytorch_forecasting import RecurrentNetwork, TimeSeriesDataSet
    from pytorch_forecasting.data.encoders import TorchNormalizer
    from pytorch_forecasting.metrics import MAE

    L.seed_everything(args.seed, verbose=False)
    data = ForecastData.load(args.data)
    start = time.perf_counter()
    train = frame([data.series(i)[: data.train_end[i]] for i in range(data.n_series)],
                  [f"s{i:03d}" for i in range(data.n_series)])
    dataset = TimeSeriesDataSet(
        train, time_idx="time_idx", target="value", group_ids=["series"],
        max_encoder_length=data.lookback, min_encoder_length=data.lookback,
        max_prediction_length=data.horizon, min_prediction_length=data.horizon,
        time_varying_unknown_reals=["value"],
        target_normalizer=TorchNormalizer(method="identity", center=False))
    loader = dataset.to_dataloader(train=True, batch_size=args.batch, num_workers=0)
    prep_s = time.perf_counter() - start

    model = RecurrentNetwork.from_dataset(
        dataset, cell_type="LSTM", hidden_size=args.hidden, rnn_layers=args.layers,
        dropout=args.dropout, learning_rate=args.lr, loss=MAE(), optimizer="adam")
    trainer_kwargs = {"accelerator": "cpu", "logger": False, "enable_progress_bar": False,
                      "enable_model_summary": False}
    trainer = L.Trainer(max_epochs=args.epochs, enable_checkpointing=False, **trainer_kwargs)
    start = time.perf_counter()
    trainer.fit(model, train_dataloaders=loader)
    fit_s = time.perf_counter() - start

    # one group per test origin: its lookback and horizon rows (the horizon's values are only
    # read for the first decoder input's alignment; the decoder feeds back its own forecasts)
    inputs, targets = data.windows(data.origin_starts())
    names = [f"o{k:06d}" for k in range(len(inputs))]
    start = time.perf_counter()
    test = frame(list(np.concatenate([inputs, targets], axis=1)), names)
    out = model.predict(test, mode="prediction", return_index=True, batch_size=1024,
                        trainer_kwargs=trainer_kwargs)
    order = np.argsort(out.index["series"].to_numpy())
    predictions = out.output.numpy()[order]
    predict_s = time.perf_counter() - start
    np.save(args.out, predictions)

    history = data.series(0)[: data.train_end[0]]

    def single():
        block = np.concatenate([history[-data.lookback :], np.zeros(data.horizon, np.float32)])
        return model.predict(frame([block], ["one"]), mode="prediction",
                             trainer_kwargs=trainer_kwargs)

    emit({"prep_s": prep_s, "fit_s": fit_s, "train_windows": len(dataset),
          "predict_s": predict_s, "latency_ms": latency_ms(single, calls=10),
          "pytorch_forecasting": pytorch_forecasting.__version__, "torch": torch.__version__,
          "lightning": L.__version__})


if __name__ == "__main__":
    main()
