"""``seqlstm-predict``: predictions for a file of new data from a checkpoint alone."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from seqlstm.cli.builders import inference_trainer, rebuild_from_checkpoint
from seqlstm.configs import plain
from seqlstm.errors import ConfigError

#: ``format``: ``auto`` writes every form the data module offers (the table, and CoNLL for
#: token tagging), ``csv`` the table alone, ``conll`` the CoNLL file alone
FORMATS = ("auto", "csv", "conll")


def predict(cfg: DictConfig) -> tuple[pd.DataFrame, list[Path]]:
    """Predict ``cfg.data_path`` (default: the checkpoint's own data) with ``cfg.ckpt_path``.

    Writes ``predictions.csv`` (and a plot when the data module draws one, and
    ``predictions.conll`` when it writes CoNLL: see ``cfg.format``) into ``cfg.output_dir``;
    returns the table and the files written.
    """
    fmt = cfg.get("format", "auto")
    if fmt not in FORMATS:
        raise ConfigError("format", f"one of {list(FORMATS)}", fmt)
    task, datamodule = rebuild_from_checkpoint(cfg.ckpt_path, "predict new data",
                                               "format_predictions", **plain(cfg.data),
                                               predict_path=cfg.data_path,
                                               batch_size=cfg.batch_size)
    conll = hasattr(datamodule, "write_conll")
    if fmt == "conll" and not conll:
        raise ConfigError("format", f"auto or csv for {type(datamodule).__name__} (CoNLL output "
                          "is for token tagging)", fmt)
    outputs = inference_trainer(cfg.trainer).predict(task, datamodule=datamodule)
    frame = datamodule.format_predictions(outputs)
    out_dir = Path(cfg.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if fmt != "conll":
        written.append(out_dir / "predictions.csv")
        frame.to_csv(written[-1], index=False)
    if conll and fmt != "csv":
        written.append(datamodule.write_conll(frame, out_dir / "predictions.conll"))
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
