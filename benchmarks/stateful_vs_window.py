"""Stateful (truncated-BPTT) vs window training on tiny shakespeare, same model, same tokens.

Both runs train the same model from the same initial weights for the same number of optimiser
steps on batches of the same shape (``batch_size`` x ``seq_len`` characters): window training
draws random windows that each start from a zero state; stateful training reads ``batch_size``
contiguous streams and carries the hidden state from batch to batch. Each trained model is
then scored on the whole validation split twice: as one stream with carried state (the true
per-character loss of the text) and as independent windows of ``seq_len`` (the window loss).

    python benchmarks/stateful_vs_window.py --path ../shared/data/tinyshakespeare.txt
"""

from __future__ import annotations

import argparse
import logging
import time

import lightning as L
import torch

from seqlstm.cli.builders import data_record
from seqlstm.data import CharDataModule
from seqlstm.tasks import build_task


def trainer(**kwargs) -> L.Trainer:
    return L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False, **kwargs)


def data(args: argparse.Namespace, stateful: bool) -> CharDataModule:
    module = CharDataModule(args.path, seq_len=args.seq_len, batch_size=args.batch_size,
                            stateful=stateful)
    module.setup("fit")
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default="../shared/data/tinyshakespeare.txt")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)

    rows = []
    for stateful in (False, True):
        L.seed_everything(0, verbose=False)
        train_data = data(args, stateful)
        model = build_task({"encoder": {"hidden_size": args.hidden}, "embedding_dim": 32,
                            "optimizer": {"_target_": "torch.optim.Adam", "_partial_": True,
                                          "lr": 3e-3}}, train_data.spec, data_record(train_data))
        start = time.perf_counter()
        trainer(max_steps=args.steps, limit_val_batches=0, gradient_clip_val=1.0).fit(
            model, datamodule=train_data)
        seconds = time.perf_counter() - start
        scores = {}
        for eval_stateful in (True, False):
            result = trainer().validate(model, datamodule=data(args, eval_stateful),
                                        verbose=False)[0]
            scores[eval_stateful] = result["val/loss"]
        rows.append(("stateful" if stateful else "windows", seconds, scores[True], scores[False]))

    tokens = args.steps * args.batch_size * args.seq_len
    print(f"tiny shakespeare, 1x{args.hidden} LSTM, {args.steps} steps of {args.batch_size} x "
          f"{args.seq_len} = {tokens:,} training characters each, {args.threads} thread(s)")
    print("| training | train s | val loss, whole split carried (nats/char) | "
          f"val loss, {args.seq_len}-char windows | ratio vs windows (carried) |")
    print("|---|---:|---:|---:|---:|")
    base = rows[0][2]
    for name, seconds, carried, windows in rows:
        print(f"| {name} | {seconds:.0f} | {carried:.4f} | {windows:.4f} | "
              f"{carried / base:.3f} |")


if __name__ == "__main__":
    main()
