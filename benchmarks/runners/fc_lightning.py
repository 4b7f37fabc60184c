"""Forecasting with a bare Lightning Trainer around the hand-written model: a Dataset of
windows, a shuffled DataLoader, ``training_step`` and ``configure_optimizers``, nothing else."""

from __future__ import annotations

import time

import lightning as L
import numpy as np
import torch
from common import emit, parser, set_torch_threads, usage, usage_between
from fc_data import ForecastData
from fc_model import DirectLSTM, add_model_args, latency_ms, predict_all, single_forecast
from torch.utils.data import DataLoader, Dataset


class Windows(Dataset):
    def __init__(self, data: ForecastData) -> None:
        self.values, self.starts = torch.from_numpy(data.values), data.train_starts()
        self.lookback, self.span = data.lookback, data.lookback + data.horizon

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        block = self.values[self.starts[i] : self.starts[i] + self.span]
        return block[: self.lookback], block[self.lookback :]


class Module(L.LightningModule):
    def __init__(self, model: torch.nn.Module, lr: float) -> None:
        super().__init__()
        self.model, self.lr = model, lr

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.l1_loss(self.model(x), y)
        self.log("loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def main() -> None:
    p = parser(__doc__)
    add_model_args(p)
    args = p.parse_args()
    set_torch_threads(args.threads)
    L.seed_everything(args.seed, verbose=False)
    data = ForecastData.load(args.data)

    start = time.perf_counter()
    loader = DataLoader(Windows(data), batch_size=args.batch, shuffle=True)
    prep_s = time.perf_counter() - start

    model = DirectLSTM(args.hidden, args.layers, args.dropout, data.horizon)
    trainer = L.Trainer(max_epochs=args.epochs, accelerator="cpu", logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    start, fit_usage = time.perf_counter(), usage()
    trainer.fit(Module(model, args.lr), loader)
    fit_s = time.perf_counter() - start
    fit_usage = usage_between(fit_usage, usage())

    start = time.perf_counter()
    predictions = predict_all(model, data)
    predict_s = time.perf_counter() - start
    np.save(args.out, predictions)
    emit({"prep_s": prep_s, "fit_s": fit_s, **fit_usage,
          "train_windows": len(loader.dataset),
          "predict_s": predict_s, "latency_ms": latency_ms(single_forecast(model, data)),
          "torch": torch.__version__, "lightning": L.__version__})


if __name__ == "__main__":
    main()
