"""Checkpoint files written atomically and read as plain data only."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from seqlstm.errors import CheckpointError
from seqlstm.files import atomic_file
from seqlstm.tasks.checkpoint import read_checkpoint


class SafeCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint I/O, made crash- and attack-safe.

    Saving writes a temporary file in the target folder, flushes it to disk (``fsync``) and
    renames it over the target (``os.replace``), so a crash, a kill or a full disk leaves
    either the previous checkpoint or the new one, never half a file; a failed write raises
    :class:`CheckpointError` naming the file. Loading (``trainer.fit(ckpt_path=...)``,
    ``trainer.test(ckpt_path=...)``) goes through :func:`read_checkpoint`: ``weights_only=True``
    whatever the caller asks, so a checkpoint carrying a pickle payload is refused unread.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path,
                        storage_options: Any | None = None) -> None:
        try:
            with atomic_file(path) as out:
                self.write(checkpoint, out)
        except OSError as err:
            raise CheckpointError(
                f"{path}: could not save the checkpoint ({err.strerror or err}); the previous "
                "file, if any, is unchanged") from err

    def write(self, checkpoint: dict[str, Any], out: IO[bytes]) -> None:
        """Serialise ``checkpoint`` into the open temporary file."""
        torch.save(checkpoint, out)

    def load_checkpoint(self, path: str | Path, map_location: Any | None = None,
                        weights_only: bool | None = None) -> dict[str, Any]:
        return read_checkpoint(path, require_task=False)  # train() pre-checked ckpt_path

