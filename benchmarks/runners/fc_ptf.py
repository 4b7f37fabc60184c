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


#: how every pytorch-forecasting runner's Trainer fits and predicts
TRAINER_KWARGS = {"accelerator": "cpu", "logger": False, "enable_progress_bar": False,
                  "enable_model_summary": False}


def training_set(data: ForecastData, batch: int):
    """pytorch-forecasting's dataset of the training rows, its loader and the seconds taken."""
    from pytorch_forecasting import TimeSeriesDataSet
    from pytorch_forecasting.data.encoders import TorchNormalizer

    start = time.perf_counter()
    train = frame([data.series(i)[: data.train_end[i]] for i in range(data.n_series)],
                  [f"s{i:03d}" for i in range(data.n_series)])
    dataset = TimeSeriesDataSet(
        train, time_idx="time_idx", target="value", group_ids=["series"],
        max_encoder_length=data.lookback, min_encoder_length=data.lookback,
        max_prediction_length=data.horizon, min_prediction_length=data.horizon,
        time_varying_unknown_reals=["value"],
        target_normalizer=TorchNormalizer(method="identity", center=False))
    loader = dataset.to_dataloader(train=True, batch_size=batch, num_workers=0)
    return dataset, loader, time.perf_counter() - start


def fit(model, loader, epochs: int) -> float:
    """Train ``model`` for ``epochs``; the seconds ``fit`` took."""
    import lightning as L

    trainer = L.Trainer(max_epochs=epochs, enable_checkpointing=False, **TRAINER_KWARGS)
    start = time.perf_counter()
    trainer.fit(model, train_dataloaders=loader)
    return time.perf_counter() - start


def origins_frame(data: ForecastData):
    """One group per test origin: its lookback and horizon rows."""
    inputs, targets = data.windows(data.origin_starts())
    names = [f"o{k:06d}" for k in range(len(inputs))]
    return frame(list(np.concatenate([inputs, targets], axis=1)), names)


def main() -> None:
    p = parser(__doc__)
    add_model_args(p)
    args = p.parse_args()
    set_torch_threads(args.threads)
    import lightning as L
    import pytorch_forecasting
    import torch
    from pytorch_forecasting import RecurrentNetwork
    from pytorch_forecasting.metrics import MAE

    L.seed_everything(args.seed, verbose=False)
    data = ForecastData.load(args.data)
    dataset, loader, prep_s = training_set(data, args.batch)
    model = RecurrentNetwork.from_dataset(
        dataset, cell_type="LSTM", hidden_size=args.hidden, rnn_layers=args.layers,
        dropout=args.dropout, learning_rate=args.lr, loss=MAE(), optimizer="adam")
    fit_s = fit(model, loader, args.epochs)

    # the horizon's values are only read for the first decoder input's alignment; the decoder
    # feeds back its own forecasts
    start = time.perf_counter()
    out = model.predict(origins_frame(data), mode="prediction", return_index=True,
                        batch_size=1024, trainer_kwargs=TRAINER_KWARGS)
    order = np.argsort(out.index["series"].to_numpy())
    predictions = out.output.numpy()[order]
    predict_s = time.perf_counter() - start
    np.save(args.out, predictions)

    history = data.series(0)[: data.train_end[0]]

    def single():
        block = np.concatenate([history[-data.lookback :], np.zeros(data.horizon, np.float32)])
        return model.predict(frame([block], ["one"]), mode="prediction",
                             trainer_kwargs=TRAINER_KWARGS)

    emit({"prep_s": prep_s, "fit_s": fit_s, "train_windows": len(dataset),
          "predict_s": predict_s, "latency_ms": latency_ms(single, calls=10),
          "pytorch_forecasting": pytorch_forecasting.__version__, "torch": torch.__version__,
          "lightning": L.__version__})


if __name__ == "__main__":
    main()
