"""The adding problem (Hochreiter & Schmidhuber 1997, Exp. 4): LSTM vs GRU vs vanilla RNN.

Trains each cell on :class:`seqlstm.data.AddingProblem` (fresh seeded sequences) with the
library's :class:`~seqlstm.nn.RecurrentEncoder`, reads the true last step and a linear map to
the sum, and prints a table: test MSE, the share of test sequences with ``|error| < 0.04``, and
the MSE relative to the constant-1 baseline (0.167). The loop is plain torch (no Lightning) so
that the step budget goes to the models; one CPU thread.

    python benchmarks/adding_problem.py --length 100 --steps 3000
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from seqlstm.data import AddingProblem
from seqlstm.nn import EncoderConfig, RecurrentEncoder, last_step

BASELINE_MSE = 1 / 6


class AddingModel(nn.Module):
    """Encoder -> last step -> linear: ``(B, T, 2) -> (B,)``."""

    def __init__(self, cell: str, hidden: int, forget_bias: float) -> None:
        super().__init__()
        self.encoder = RecurrentEncoder(2, EncoderConfig(cell=cell, hidden_size=hidden))
        if cell == "lstm":
            set_forget_bias(self.encoder, forget_bias)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, _ = self.encoder(x)  # (B, T, H)
        return self.out(last_step(features, None)).squeeze(-1)


def set_forget_bias(encoder: RecurrentEncoder, value: float) -> None:
    """Start every LSTM forget gate at ``sigmoid(value)`` (the encoder's default is 1)."""
    for layer in encoder.layers:
        for name, bias in layer.rnn.named_parameters():
            if name.startswith("bias_ih"):
                hidden = bias.size(0) // 4
                with torch.no_grad():
                    bias[hidden : 2 * hidden] = value  # gate order: input, forget, cell, output


def run(cell: str, args: argparse.Namespace) -> dict[str, float]:
    torch.manual_seed(args.seed)
    data = AddingProblem(length=args.length, train_size=args.steps * args.batch_size,
                         val_size=1, test_size=args.test_size, seed=args.seed,
                         batch_size=args.batch_size)
    data.setup("fit")
    model = AddingModel(cell, args.hidden, args.forget_bias)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    start = time.perf_counter()
    running = 0.0
    for step, batch in enumerate(data.train_dataloader(), start=1):
        loss = nn.functional.mse_loss(model(batch["inputs"]), batch["targets"].flatten())
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        running += loss.item()
        if args.log_every and step % args.log_every == 0:
            print(f"  {cell} step {step}: train MSE {running / args.log_every:.4f}", flush=True)
            running = 0.0
    seconds = time.perf_counter() - start
    model.eval()
    test = data.splits["test"]
    with torch.no_grad():
        error = model(test.inputs) - test.targets.flatten()
    return {"mse": float(error.pow(2).mean()), "within": float((error.abs() < 0.04).float().mean()),
            "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=100, help="sequence length T")
    parser.add_argument("--steps", type=int, default=3000, help="training batches per cell")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cells", default="lstm,gru,rnn")
    parser.add_argument("--log-every", type=int, default=0,
                        help="print the mean training MSE every this many batches (0: never)")
    parser.add_argument("--forget-bias", type=float, default=1.0,
                        help="initial LSTM forget-gate bias (the encoder's default is 1)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"adding problem, T={args.length}: {args.steps} batches of {args.batch_size}, "
          f"hidden {args.hidden}, Adam lr {args.lr}, LSTM forget bias {args.forget_bias}, "
          f"{args.test_size} test sequences, 1 thread")
    print(f"| cell | test MSE | MSE / baseline {BASELINE_MSE:.3f} | share abs(err) < 0.04 | "
          "train time (s) |")
    print("|---|---|---|---|---|")
    for cell in args.cells.split(","):
        r = run(cell, args)
        print(f"| {cell} | {r['mse']:.4f} | {r['mse'] / BASELINE_MSE:.3f} | "
              f"{r['within']:.1%} | {r['seconds']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
