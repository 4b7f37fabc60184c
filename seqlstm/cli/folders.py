"""The run folder, checked before any data is read: it must take a file (a read-only folder, a
full disk, a path through a file are refused by name), and hold no other run's checkpoints."""

from __future__ import annotations

import os
from pathlib import Path

from seqlstm.errors import ConfigError, DataError

PROBE = ".seqlstm-write-test"
PROBE_BYTES = 1 << 16


def check_run_folder(folder: str | Path, resuming: bool) -> None:
    """Refuse ``folder`` unless a 64 KB file can be written, synced and removed there, and (for
    a fresh run) no earlier run left checkpoints in it; a SLURM requeue (``hpc_ckpt_*.ckpt``)
    may reuse its folder."""
    folder = Path(folder)
    probe = folder / PROBE
    created = [path for path in (folder, *folder.parents) if not path.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as out:
            out.write(b"\0" * PROBE_BYTES)
            out.flush()
            os.fsync(out.fileno())
        probe.unlink()
        for path in created:  # deepest first: a refused run leaves no folder behind
            path.rmdir()
    except OSError as err:
        raise DataError(f"{folder}: the run folder cannot be written ({err.strerror or err}); "
                        "point hydra.run.dir (or paths.log_dir) at a writable folder with free "
                        "space") from None
    earlier = sorted((folder / "checkpoints").glob("*.ckpt"))
    if earlier and not resuming and not list(folder.glob("hpc_ckpt_*.ckpt")):
        raise ConfigError("hydra.run.dir", "a folder no other run has written to (it holds "
                          f"{earlier[0].relative_to(folder)}: resume that run with "
                          f"ckpt_path={folder}, or choose another folder)", str(folder))
