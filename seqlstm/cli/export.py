"""``seqlstm-export``: write a checkpoint as ONNX and TorchScript with explicit hidden state."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from seqlstm.configs import plain
from seqlstm.errors import ConfigError
from seqlstm.export import FORMATS, export
from seqlstm.tasks import SequenceTask, load_task


def export_checkpoint(cfg: DictConfig) -> list[Path]:
    """Export ``cfg.ckpt_path`` in ``cfg.formats`` to ``cfg.output_dir`` (default: next to the
    checkpoint) as ``<name>.onnx`` / ``<name>.pt`` plus ``<name>.json``; returns the paths."""
    formats = plain(cfg.formats)
    if isinstance(formats, str):
        formats = [formats]
    if not formats or any(f not in FORMATS for f in formats):
        raise ConfigError("formats", f"a non-empty list drawn from {list(FORMATS)}", formats)
    task = load_task(cfg.ckpt_path, SequenceTask)
    checkpoint = Path(cfg.ckpt_path)
    folder = Path(cfg.output_dir) if cfg.output_dir else checkpoint.parent
    return export(task, folder, cfg.name or checkpoint.stem, tuple(formats), opset=cfg.opset)


def command(cfg: DictConfig) -> None:
    for path in export_checkpoint(cfg):
        print(path)


if __name__ == "__main__":
    from seqlstm.cli.scripts import export

    export()
