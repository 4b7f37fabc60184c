"""Probabilistic forecasting with pytorch-forecasting's DeepAR (LSTM, Normal likelihood,
autoregressive: each horizon step is fed back a draw of the one before): trained on the
benchmark's windows, it saves quantiles at ``fc_data.LEVELS`` of ``fc_data.SAMPLES`` sample
paths per test origin."""

from __future__ import annotations

import time

import numpy as np
from common import emit, parser, set_torch_threads
from fc_data import SAMPLES, ForecastData, sample_quantiles
from fc_model import add_model_args
from fc_ptf import frame


def main() -> None:
    p = parser(__doc__)
    add_model_args(p)
    args = p.parse_args()
    set_torch_threads(args.threads)
    import lightning as L
    import pytorch_forecasting
    import torch
    from pytorch_forecasting import DeepAR, TimeSeriesDataSet
    from pytorch_forecasting.data.encoders import TorchNormalizer
    from pytorch_forecasting.metrics import NormalDistributionLoss

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

    model = DeepAR.from_dataset(
        dataset, cell_type="LSTM", hidden_size=args.hidden, rnn_layers=args.layers,
        dropout=args.dropout, learning_rate=args.lr, loss=NormalDistributionLoss(),
        optimizer="adam")
    trainer_kwargs = {"accelerator": "cpu", "logger": False, "enable_progress_bar": False,
                      "enable_model_summary": False}
    trainer = L.Trainer(max_epochs=args.epochs, enable_checkpointing=False, **trainer_kwargs)
    start = time.perf_counter()
    trainer.fit(model, train_dataloaders=loader)
    fit_s = time.perf_counter() - start

    # one group per test origin: its lookback and horizon rows (the horizon's values are not
    # read: the decoder feeds back its own draws)
    inputs, targets = data.windows(data.origin_starts())
    names = [f"o{k:06d}" for k in range(len(inputs))]
    start = time.perf_counter()
    test = frame(list(np.concatenate([inputs, targets], axis=1)), names)
    out = model.predict(test, mode="samples", n_samples=SAMPLES, return_index=True,
                        batch_size=256, trainer_kwargs=trainer_kwargs)
    order = np.argsort(out.index["series"].to_numpy())
    predictions = sample_quantiles(out.output.numpy()[order])  # (M, horizon, S) draws
    predict_s = time.perf_counter() - start
    np.save(args.out, predictions)
    emit({"prep_s": prep_s, "fit_s": fit_s, "train_windows": len(dataset),
          "predict_s": predict_s, "pytorch_forecasting": pytorch_forecasting.__version__,
          "torch": torch.__version__, "lightning": L.__version__})


if __name__ == "__main__":
    main()
