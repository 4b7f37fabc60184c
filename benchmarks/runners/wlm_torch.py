"""A hand-written word-level LM loop in the style of pytorch/examples ``word_language_model``
(``batchify``, ``repackage_hidden``, SGD with gradient clipping, tied weights), trained for a
wall-time budget (``--budget``) or a number of optimiser steps (``--steps``); prints one JSON
line with the validation perplexity of the final weights and the process's CPU seconds.
Reads the ``.npy`` token ids of each split (``--data DIR`` with train/val/test.npy)."""

from __future__ import annotations

import argparse
import json
import math
import resource
import time
from pathlib import Path

import numpy as np
import torch
from common import set_torch_threads
from torch import nn


class RNNModel(nn.Module):
    """Embedding -> dropout -> LSTM -> dropout -> decoder tied to the embedding.

    ``embedding_init`` and ``lstm_init`` are there to find what a recipe difference costs:
    ``uniform`` / ``torch`` are pytorch/examples' (the embedding from U(-0.1, 0.1), torch's own
    LSTM init), ``normal`` is torch's N(0, 1) embedding, ``seqlstm`` the init of seqlstm's
    encoder (orthogonal recurrent matrices per gate, Xavier inputs, zero biases but the forget
    gate's ``forget_bias``); ``input_dropout=False`` leaves the embedding's output undropped
    (seqlstm's ``embedding_dropout`` drops whole rows instead, and is 0 by default)."""

    def __init__(self, vocab: int, size: int, layers: int, dropout: float,
                 embedding_init: str = "uniform", lstm_init: str = "torch",
                 forget_bias: float = 1.0, input_dropout: bool = True) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.input_drop = nn.Dropout(dropout if input_dropout else 0.0)
        self.encoder = nn.Embedding(vocab, size)
        self.rnn = nn.LSTM(size, size, layers, dropout=dropout, batch_first=True)
        self.decoder = nn.Linear(size, vocab)
        self.decoder.weight = self.encoder.weight
        if embedding_init == "uniform":
            nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        else:
            nn.init.normal_(self.encoder.weight)
        nn.init.zeros_(self.decoder.bias)
        if lstm_init == "seqlstm":
            for name, param in self.rnn.named_parameters():
                if name.startswith("weight_hh"):
                    for gate in param.data.chunk(4):
                        nn.init.orthogonal_(gate)
                elif name.startswith("weight_ih"):
                    nn.init.xavier_uniform_(param.data)
                else:
                    nn.init.zeros_(param.data)
                    if name.startswith("bias_ih"):
                        param.data[size : 2 * size] = forget_bias

    def forward(self, ids, hidden):
        out, hidden = self.rnn(self.input_drop(self.encoder(ids)), hidden)  # (B, T, H)
        return self.decoder(self.drop(out)), hidden


def batchify(ids: np.ndarray, streams: int) -> torch.Tensor:
    """``(N,)`` -> ``(streams, N // streams)``: contiguous streams side by side."""
    n = len(ids) // streams
    return torch.from_numpy(ids[: n * streams].astype(np.int64)).view(streams, n)


def repackage(hidden):
    return tuple(h.detach() for h in hidden)


@torch.no_grad()
def evaluate(model, data: torch.Tensor, bptt: int) -> float:
    model.eval()
    hidden, total, count = None, 0.0, 0
    for i in range(0, data.size(1) - 1, bptt):
        x, y = data[:, i : i + bptt], data[:, i + 1 : i + 1 + bptt]
        x = x[:, : y.size(1)]
        logits, hidden = model(x, hidden)
        total += nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(),
                                             reduction="sum").item()
        count += y.numel()
    model.train()
    return total / count


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    limit = p.add_mutually_exclusive_group(required=True)
    limit.add_argument("--budget", type=float, help="training seconds (wall time)")
    limit.add_argument("--steps", type=int, help="optimiser steps")
    p.add_argument("--size", type=int, default=200)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--lr", type=float, default=20.0)
    p.add_argument("--clip", type=float, default=0.25)
    p.add_argument("--bptt", type=int, default=35)
    p.add_argument("--batch", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--embedding-init", choices=["uniform", "normal"], default="uniform")
    p.add_argument("--lstm-init", choices=["torch", "seqlstm"], default="torch")
    p.add_argument("--forget-bias", type=float, default=1.0, help="with --lstm-init seqlstm")
    p.add_argument("--no-input-dropout", action="store_true",
                   help="no dropout on the embedding's output")
    p.add_argument("--validate-each-epoch", action="store_true",
                   help="validate after every full epoch, inside the budget (pytorch/examples)")
    args = p.parse_args()
    set_torch_threads(args.threads)
    torch.manual_seed(args.seed)
    folder = Path(args.data)
    train = batchify(np.load(folder / "train.npy"), args.batch)
    val = batchify(np.load(folder / "val.npy"), 1)  # one stream, as seqlstm's stateful eval
    vocab = int(json.loads((folder / "meta.json").read_text())["vocab_size"])
    model = RNNModel(vocab, args.size, args.layers, args.dropout, args.embedding_init,
                     args.lstm_init, args.forget_bias, not args.no_input_dropout)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    start, steps, epochs, epoch_ppl = time.perf_counter(), 0, 0, []

    def done() -> bool:
        if args.steps is not None:
            return steps >= args.steps
        return time.perf_counter() - start >= args.budget

    while not done():
        hidden = None
        for i in range(0, train.size(1) - 1, args.bptt):
            x, y = train[:, i : i + args.bptt], train[:, i + 1 : i + 1 + args.bptt]
            x = x[:, : y.size(1)]
            hidden = repackage(hidden) if hidden is not None else None
            logits, hidden = model(x, hidden)
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            steps += 1
            if done():
                break
        else:
            if args.validate_each_epoch:
                epoch_ppl.append(math.exp(evaluate(model, val, args.bptt)))
        epochs += 1
    seconds = time.perf_counter() - start
    val_loss = evaluate(model, val, args.bptt)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"val_ppl": math.exp(val_loss), "val_loss": val_loss, "steps": steps,
                      "epochs": epochs, "epoch_val_ppl": epoch_ppl, "train_seconds": seconds,
                      "cpu_seconds": usage.ru_utime + usage.ru_stime,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
