"""Char LM training throughput of a hand-written PyTorch loop (the reference), and the FLOP/s of
a large fp32 matmul (the hardware ceiling), in one process with the same threads."""

from __future__ import annotations

import numpy as np
import torch
from common import (
    StepClock,
    apply_runtime,
    emit,
    lm_parser,
    matmul_flops,
    set_torch_threads,
    synchronize,
)
from torch import nn


class CharLSTM(nn.Module):
    """Embedding -> stacked LSTM -> linear head: seqlstm's LanguageModel without Lightning."""

    def __init__(self, vocab: int, embedding: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, embedding)
        self.lstm = nn.LSTM(embedding, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embedding(ids))  # (B, T, H)
        return self.head(out)  # (B, T, V)


def train(args) -> dict:
    ids = np.load(args.data)
    vocab = int(ids.max()) + 1 if args.vocab is None else args.vocab
    device = torch.device(args.device)
    model = CharLSTM(vocab, args.embedding, args.hidden, args.layers).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    rng = np.random.default_rng(args.seed)
    offsets = np.arange(args.seq_len + 1)
    clock = StepClock(args.warmup)
    for _ in range(args.warmup + args.steps):
        starts = rng.integers(0, len(ids) - args.seq_len - 1, args.batch)
        window = torch.from_numpy(ids[starts[:, None] + offsets].astype(np.int64))  # (B, T+1)
        window = window.to(device, non_blocking=True)
        logits = model(window[:, :-1])
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), window[:, 1:].flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        synchronize(device)
        clock.tick()
    return {**clock.rates(args.batch * args.seq_len, "tokens"), "final_loss": float(loss),
            "torch": torch.__version__}


if __name__ == "__main__":
    p = lm_parser(__doc__)
    p.add_argument("--data", required=True, help=".npy of token ids")
    p.add_argument("--vocab", type=int)
    p.add_argument("--matmul", type=int, default=0, help="also time an N x N matmul")
    args = p.parse_args()
    set_torch_threads(args.threads)
    allocator = apply_runtime()
    torch.manual_seed(args.seed)
    result = {**train(args), "allocator": allocator or "glibc defaults"}
    if args.matmul:
        result["matmul_flops"] = matmul_flops(args.matmul)
    emit(result)
