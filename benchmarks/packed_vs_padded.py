"""Packed vs padded recurrent runs on a variable-length batch stream.

Sequences with widely varying lengths are batched and padded to each batch's longest. The
padded run feeds the padding through the recurrence (then reads each sequence's true last
step); the packed run gives the encoder ``lengths`` so it skips the padding. The table gives
the time per training epoch (forward, backward, optimiser step) and the ratio against padded,
plus the largest difference between the two runs' outputs at valid steps. One CPU thread.

    python benchmarks/packed_vs_padded.py --min-length 10 --max-length 400
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from seqlstm.data.sequences.batches import LengthBuckets, PaddedSequences, keep_batch, pad_sequences
from seqlstm.nn import EncoderConfig, RecurrentEncoder, last_step


def make_loader(args: argparse.Namespace, bucketed: bool) -> torch.utils.data.DataLoader:
    rng = np.random.default_rng(args.seed)
    lengths = rng.integers(args.min_length, args.max_length + 1, args.sequences)
    series = [rng.standard_normal((n, args.features)).astype(np.float32) for n in lengths]
    inputs, lengths = pad_sequences(series, args.features)
    targets = torch.from_numpy(rng.integers(0, 2, args.sequences))
    data = PaddedSequences(torch.from_numpy(inputs), torch.from_numpy(lengths), targets)
    if bucketed:
        return torch.utils.data.DataLoader(
            data, batch_sampler=LengthBuckets(data.lengths, args.batch_size, seed=args.seed),
            collate_fn=keep_batch)
    return torch.utils.data.DataLoader(data, batch_size=args.batch_size, shuffle=False,
                                       collate_fn=keep_batch)


def epoch_seconds(cell: str, packed: bool, train: bool, loader,
                  args: argparse.Namespace) -> float:
    """Best time of ``args.epochs`` epochs: training steps, or no-grad forward passes."""
    torch.manual_seed(args.seed)
    encoder = RecurrentEncoder(args.features, EncoderConfig(cell=cell, hidden_size=args.hidden))
    head = nn.Linear(args.hidden, 2)
    optimizer = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=1e-3)
    times = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        for batch in loader:
            lengths = batch["lengths"]
            with torch.set_grad_enabled(train):
                out, _ = encoder(batch["inputs"], lengths=lengths if packed else None)
                logits = head(last_step(out, lengths))
            if train:
                loss = nn.functional.cross_entropy(logits, batch["targets"])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        times.append(time.perf_counter() - start)
    return min(times)


def max_difference(cell: str, loader, args: argparse.Namespace) -> float:
    """Largest |packed - padded| output at valid steps, same weights, first batch."""
    torch.manual_seed(args.seed)
    encoder = RecurrentEncoder(args.features, EncoderConfig(cell=cell, hidden_size=args.hidden))
    batch = next(iter(loader))
    with torch.no_grad():
        packed, _ = encoder(batch["inputs"], lengths=batch["lengths"])
        padded, _ = encoder(batch["inputs"])
    valid = torch.arange(packed.size(1)) < batch["lengths"][:, None]
    return float((packed - padded)[valid].abs().max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=128)
    parser.add_argument("--min-length", type=int, default=10)
    parser.add_argument("--max-length", type=int, default=400)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs; the best is kept")
    parser.add_argument("--cells", default="lstm,gru")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    loaders = {"random": make_loader(args, False), "length-bucketed": make_loader(args, True)}
    lengths = loaders["random"].dataset.lengths.float()
    print(f"{args.sequences} sequences, lengths {args.min_length}-{args.max_length} (mean "
          f"{lengths.mean():.0f}), {args.features} features, hidden {args.hidden}, batch "
          f"{args.batch_size}, best of {args.epochs} epochs, torch {torch.__version__}, 1 thread")
    print("| cell | pass | batches | padded s/epoch | packed s/epoch | padded / packed |")
    print("|---|---|---|---|---|---|")
    for cell in args.cells.split(","):
        for train in (True, False):
            for name, loader in loaders.items():
                padded = epoch_seconds(cell, False, train, loader, args)
                packed = epoch_seconds(cell, True, train, loader, args)
                print(f"| {cell} | {'train' if train else 'eval'} | {name} | {padded:.2f} | "
                      f"{packed:.2f} | {padded / packed:.2f}x |", flush=True)
        print(f"max abs(packed - padded) at valid steps ({cell}): "
              f"{max_difference(cell, loaders['random'], args):.1e}")

if __name__ == "__main__":
    main()
