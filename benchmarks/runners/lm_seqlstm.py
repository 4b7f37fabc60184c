"""Char LM training throughput of seqlstm: the real LanguageModel and CharDataModule, composed
from ``conf/train.yaml`` and fitted by the Lightning Trainer exactly as ``seqlstm-train`` builds
them (progress bar and checkpoint callbacks off; the CSV logger on, as by default)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import lightning as L
import torch
from common import StepClock, emit, lm_parser, set_torch_threads, synchronize
from seqlstm_run import compose_run

from seqlstm import runtime
from seqlstm.cli.builders import build_datamodule, build_loggers, build_trainer, data_record
from seqlstm.configs import plain
from seqlstm.tasks import build_task


class ClockCallback(L.Callback):
    def __init__(self, clock: StepClock) -> None:
        self.clock = clock

    def on_train_batch_end(self, trainer: L.Trainer, *args, **kwargs) -> None:
        synchronize(trainer.strategy.root_device)
        self.clock.tick()


def main() -> None:
    p = lm_parser(__doc__)
    p.add_argument("--text", required=True)
    args = p.parse_args()
    set_torch_threads(args.threads)
    out = Path(tempfile.mkdtemp(prefix="seqlstm-bench-"))
    overrides = [
        "model=stacked_lstm", "data=char", f"data.path={args.text}",
        f"data.batch_size={args.batch}", f"data.seq_len={args.seq_len}",
        f"model.encoder.hidden_size={args.hidden}", f"model.encoder.num_layers={args.layers}",
        "model.encoder.dropout=0", "model.encoder.output_dropout=0",
        f"model.embedding_dim={args.embedding}", "callbacks=none",
        "trainer.enable_progress_bar=false", f"+trainer.max_steps={args.warmup + args.steps}",
        "+trainer.limit_val_batches=0", "+trainer.enable_model_summary=false",
        f"seed={args.seed}", *(["trainer=gpu"] if args.device.startswith("cuda") else []),
    ]
    cfg = compose_run(overrides, out)
    datamodule = build_datamodule(cfg.data)
    datamodule.setup("fit")
    model = build_task(plain(cfg.model), datamodule.spec, data_record(datamodule))
    clock = StepClock(args.warmup)
    trainer = build_trainer(cfg, [ClockCallback(clock)], build_loggers(cfg.get("logger")))
    trainer.fit(model, datamodule=datamodule)
    emit({**clock.rates(args.batch * args.seq_len, "tokens"),
          "vocab": datamodule.spec.input_size,
          "final_loss": float(trainer.callback_metrics["train/loss_step"]),
          "torch": torch.__version__, "lightning": L.__version__,
          "allocator": runtime.allocator_in_use()})


if __name__ == "__main__":
    main()
