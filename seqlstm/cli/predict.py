"""``seqlstm-predict``: predictions for a file of new data from a checkpoint alone."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
from omegaconf import DictConfig

from seqlstm.cli.entry import hydra_entry
from seqlstm.cli.run import build_datamodule
from seqlstm.configs import plain
from seqlstm.errors import CheckpointError
from seqlstm.targets import resolve_class
from seqlstm.tasks import SequenceTask, load_task

log = logging.getLogger(__name__)


def predict(cfg: DictConfig) -> tuple[pd.DataFrame, list[Path]]:
    """Predict ``cfg.data_path`` (default: the checkpoint's own data) with ``cfg.ckpt_path``.

    The data module is rebuilt from the checkpoint's data record with the fitted state of its
    spec (``fitted``), so new data is scaled exactly as the training data was. Writes
    ``predictions.csv`` (and a plot when the data module draws one) into ``cfg.output_dir``;
    returns the table and the files written.
    """
    task = load_task(cfg.ckpt_path, SequenceTask)
    record = dict(task.hparams.get("data") or {})
    if not record:
        raise CheckpointError(f"{cfg.ckpt_path}: records no data config to predict with")
    overrides: dict[str, Any] = {**plain(cfg.data), "fitted": task.spec.extra,
                                 "predict_path": cfg.data_path}
    if cfg.batch_size:
        overrides["batch_size"] = cfg.batch_size
    if not hasattr(resolve_class(record.get("_target_", ""), L.LightningDataModule,
                                 "data._target_"), "format_predictions"):
        raise CheckpointError(f"{cfg.ckpt_path}: its data module {record['_target_']} does not "
                              "predict new data (it has no format_predictions)")
    datamodule = build_datamodule({**record, **overrides})
    trainer = L.Trainer(accelerator=cfg.trainer.accelerator, devices=cfg.trainer.devices,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False)
    outputs = trainer.predict(task, datamodule=datamodule)
    frame = datamodule.format_predictions(outputs)
    out_dir = Path(cfg.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "predictions.csv"]
    frame.to_csv(written[0], index=False)
    if cfg.plot and hasattr(datamodule, "plot_predictions"):
        written.append(datamodule.plot_predictions(frame, out_dir / "forecast.png"))
    return frame, written


@hydra_entry("predict")
def main(cfg: DictConfig) -> None:
    frame, written = predict(cfg)
    print(frame.head(20).to_string(index=False))
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
