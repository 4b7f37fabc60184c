"""``seqlstm-predict``: predictions for a file of new data from a checkpoint alone."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from seqlstm.cli.builders import inference_trainer, rebuild_from_checkpoint
from seqlstm.configs import plain


def predict(cfg: DictConfig) -> tuple[pd.DataFrame, list[Path]]:
    """Predict ``cfg.data_path`` (default: the checkpoint's own data) with ``cfg.ckpt_path``.

    Writes ``predictions.csv`` (and a plot when the data module draws one) into
    ``cfg.output_dir``; returns the table and the files written.
    """
    task, datamodule = rebuild_from_checkpoint(cfg.ckpt_path, "predict new data",
                                               "format_predictions", **plain(cfg.data),
                                               predict_path=cfg.data_path,
                                               batch_size=cfg.batch_size)
    outputs = inference_trainer(cfg.trainer).predict(task, datamodule=datamodule)
    frame = datamodule.format_predictions(outputs)
    out_dir = Path(cfg.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "predictions.csv"]
    frame.to_csv(written[0], index=False)
    if cfg.plot and hasattr(datamodule, "plot_predictions"):
        written.append(datamodule.plot_predictions(frame, out_dir / "forecast.png"))
    return frame, written


def command(cfg: DictConfig) -> None:
    """Print the first rows and the files written."""
    frame, written = predict(cfg)
    print(frame.head(20).to_string(index=False))
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    from seqlstm.cli.scripts import predict

    predict()
