"""Forecasting with a hand-written PyTorch loop: the reference of the forecasting benchmark."""

from __future__ import annotations

import time

import numpy as np
import torch
from common import (
    apply_runtime,
    emit,
    matmul_flops,
    parser,
    set_torch_threads,
    synchronize,
    usage,
    usage_between,
)
from fc_data import ForecastData
from fc_model import DirectLSTM, add_model_args, latency_ms, predict_all, single_forecast


def main() -> None:
    p = parser(__doc__)
    add_model_args(p)
    p.add_argument("--matmul", type=int, default=0, help="also time an N x N matmul")
    args = p.parse_args()
    set_torch_threads(args.threads)
    allocator = apply_runtime()
    torch.manual_seed(args.seed)
    data = ForecastData.load(args.data)

    device = torch.device(args.device)
    start = time.perf_counter()
    values = torch.from_numpy(data.values).to(device)
    starts = torch.from_numpy(data.train_starts()).to(device)
    span = torch.arange(data.lookback + data.horizon, device=device)
    prep_s = time.perf_counter() - start

    model = DirectLSTM(args.hidden, args.layers, args.dropout, data.horizon).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    start, fit_usage = time.perf_counter(), usage()
    model.train()
    for _ in range(args.epochs):
        for batch in starts[torch.randperm(len(starts), device=device)].split(args.batch):
            block = values[batch[:, None] + span]  # (B, lookback + horizon)
            loss = torch.nn.functional.l1_loss(model(block[:, : data.lookback]),
                                               block[:, data.lookback :])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    synchronize(device)
    fit_s = time.perf_counter() - start
    fit_usage = usage_between(fit_usage, usage())

    start = time.perf_counter()
    predictions = predict_all(model, data)
    predict_s = time.perf_counter() - start
    np.save(args.out, predictions)
    result = {"prep_s": prep_s, "fit_s": fit_s, **fit_usage, "train_windows": len(starts),
              "predict_s": predict_s, "latency_ms": latency_ms(single_forecast(model, data)),
              "torch": torch.__version__, "allocator": allocator or "glibc defaults"}
    if args.matmul:
        result["matmul_flops"] = matmul_flops(args.matmul)
    emit(result)


if __name__ == "__main__":
    main()
