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
from fc_ptf import TRAINER_KWARGS, fit, origins_frame, training_set


def main() -> None:
    p = parser(__doc__)
    add_model_args(p)
    args = p.parse_args()
    set_torch_threads(args.threads)
    import lightning as L
    import pytorch_forecasting
    import torch
    from pytorch_forecasting import DeepAR
    from pytorch_forecasting.metrics import NormalDistributionLoss

    L.seed_everything(args.seed, verbose=False)
    data = ForecastData.load(args.data)
    dataset, loader, prep_s = training_set(data, args.batch)
    model = DeepAR.from_dataset(
        dataset, cell_type="LSTM", hidden_size=args.hidden, rnn_layers=args.layers,
        dropout=args.dropout, learning_rate=args.lr, loss=NormalDistributionLoss(),
        optimizer="adam")
    fit_s = fit(model, loader, args.epochs)

    # the horizon's values are not read: the decoder feeds back its own draws
    start = time.perf_counter()
    out = model.predict(origins_frame(data), mode="samples", n_samples=SAMPLES,
                        return_index=True, batch_size=256, trainer_kwargs=TRAINER_KWARGS)
    order = np.argsort(out.index["series"].to_numpy())
    predictions = sample_quantiles(out.output.numpy()[order])  # (M, horizon, S) draws
    predict_s = time.perf_counter() - start
    np.save(args.out, predictions)
    emit({"prep_s": prep_s, "fit_s": fit_s, "train_windows": len(dataset),
          "predict_s": predict_s, "pytorch_forecasting": pytorch_forecasting.__version__,
          "torch": torch.__version__, "lightning": L.__version__})


if __name__ == "__main__":
    main()
