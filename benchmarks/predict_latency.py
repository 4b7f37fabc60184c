"""Latency of one next-step prediction: Trainer-free Predictor vs ``Trainer.predict``.

A 2-layer, 64-unit character LSTM reads a 48-character context and predicts the next
character. ``Predictor.predict_next`` answers under ``torch.inference_mode`` with no Trainer;
``Stream.step`` advances a carried state by one character; ``Trainer.predict`` builds a
loop, a data loader and callbacks for every call. Medians over many calls, same model.

A second table does the same for one 12-step forecast of one series (a 2-layer, 64-unit LSTM
Forecaster, direct strategy, 48 steps of history): ``Predictor.predict`` against
``Trainer.predict``.

    python benchmarks/predict_latency.py [--calls 500] [--threads 1]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import string
import time

import lightning as L
import torch
from torch.utils.data import DataLoader

from seqlstm.data import DataSpec
from seqlstm.inference import Predictor
from seqlstm.tasks import Forecaster, LanguageModel


def median_ms(fn, calls: int) -> float:
    for _ in range(min(10, calls)):
        fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--trainer-calls", type=int, default=20)
    parser.add_argument("--context", type=int, default=48)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)

    vocab = ["\ufffd", *sorted(set(string.printable))]
    spec = DataSpec(input_kind="tokens", target_kind="next_token", input_size=len(vocab),
                    output_size=len(vocab), vocab=vocab)
    torch.manual_seed(0)
    model = LanguageModel(spec=spec.as_dict(), encoder={"hidden_size": 64, "num_layers": 2},
                          embedding_dim=32)
    predictor = Predictor(model)
    ids = torch.randint(1, len(vocab), (1, args.context))
    stream = predictor.stream()
    stream.feed(ids[0])
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False,
                        enable_model_summary=False, enable_checkpointing=False)
    loader = DataLoader([{"inputs": ids}], batch_size=None)

    def by_trainer() -> torch.Tensor:
        return trainer.predict(model, loader)[0][0, -1]

    def by_hand() -> torch.Tensor:
        with torch.inference_mode():
            return model.eval()(ids)[0][0, -1]

    assert torch.allclose(by_trainer(), predictor.predict_next(ids)[0], atol=1e-6)
    rows = [
        ("Trainer.predict", median_ms(by_trainer, args.trainer_calls)),
        ("hand-written inference_mode forward", median_ms(by_hand, args.calls)),
        ("Predictor.predict_next (48 chars)", median_ms(lambda: predictor.predict_next(ids),
                                                         args.calls)),
        ("Stream.step (1 char, carried state)", median_ms(lambda: stream.step(5), args.calls)),
    ]
    print(f"2x64 LSTM, {args.context}-character context, {args.threads} thread(s), median of "
          f"{args.calls} calls ({args.trainer_calls} for Trainer.predict); results equal")
    print_table(rows)
    forecast_table(args, trainer)


def print_table(rows: list[tuple[str, float]]) -> None:
    """Median latencies, with the speed-up over the first row."""
    base = rows[0][1]
    print(f"| {'method':<38} | {'median ms':>9} | {'speed-up':>8} |")
    print(f"|{'-' * 40}|{'-' * 11}|{'-' * 10}|")
    for name, ms in rows:
        print(f"| {name:<38} | {ms:9.3f} | {base / ms:7.0f}x |")


def forecast_table(args: argparse.Namespace, trainer: L.Trainer) -> None:
    """One 12-step forecast of one series: Predictor vs Trainer.predict (results equal)."""
    spec = DataSpec(input_kind="real", target_kind="real", input_size=1, output_size=1,
                    horizon=12)
    torch.manual_seed(0)
    model = Forecaster(spec=spec.as_dict(), encoder={"hidden_size": 64, "num_layers": 2})
    predictor = Predictor(model)
    history = torch.randn(1, args.context, 1)  # (B=1, T, F=1)
    loader = DataLoader([{"inputs": history}], batch_size=None)
    by_trainer = trainer.predict(model, loader)[0]["mean"]
    assert torch.allclose(by_trainer, predictor.predict(history)["mean"], atol=1e-6)
    assert by_trainer.shape == (1, 12, 1)
    rows = [
        ("Trainer.predict", median_ms(lambda: trainer.predict(model, loader), args.trainer_calls)),
        ("Predictor.predict (12-step forecast)", median_ms(lambda: predictor.predict(history),
                                                            args.calls)),
    ]
    print(f"\n2x64 LSTM Forecaster, {args.context} steps of history, horizon 12, "
          f"{args.threads} thread(s); results equal")
    print_table(rows)


if __name__ == "__main__":
    main()
