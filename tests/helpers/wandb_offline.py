"""Reading back an offline W&B run folder, for tests.

wandb 0.31 keeps an offline run's config, history and summary only in ``run-<id>.wandb``: a
LevelDB-style log (a 7-byte ``:W&B`` header, then 32 KiB blocks of records, each a 7-byte
header ``crc32, length, type`` and a chunk) of ``wandb_internal_pb2.Record`` protobufs. Media
(tables, images) are plain files under ``files/media/``.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BLOCK = 32 * 1024
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> list[Any]:
    """Every protobuf record of a ``.wandb`` file, in order."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run log"
    out, pos, chunks = [], HEADER, b""
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:  # block trailer padding
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + HEADER])
        if kind == 0:  # zero padding to the end of the block
            pos += left
            continue
        chunks += data[pos + HEADER:pos + HEADER + length]
        pos += HEADER + length
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(chunks)
            out.append(record)
            chunks = b""
    return out


def _key(item: Any) -> str:
    return "/".join(item.nested_key) if item.nested_key else item.key


@dataclass
class OfflineRun:
    folder: Path
    run_id: str = ""
    group: str = ""
    name: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[tuple[str, str]] = field(default_factory=list)
    """(type, name) of each logged artifact."""

    def media(self, pattern: str) -> list[Path]:
        return sorted((self.folder / "files" / "media").glob(pattern))

    def metric(self, name: str) -> list[Any]:
        """Every logged value of ``name``, in order."""
        return [row[name] for row in self.history if name in row]


def read_run(folder: Path) -> OfflineRun:
    """The config, history rows, group, name and artifacts of an offline run folder."""
    (log,) = folder.glob("run-*.wandb")
    run = OfflineRun(folder)
    for record in records(log):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.run_id, run.group, run.name = (record.run.run_id, record.run.run_group,
                                               record.run.display_name)
            updates = record.run.config.update
        elif kind == "config":
            updates = record.config.update
        else:
            updates = []
        for item in updates:
            run.config[_key(item)] = json.loads(item.value_json)
        if kind == "history":
            run.history.append({_key(i): json.loads(i.value_json) for i in record.history.item})
        elif kind == "artifact":
            run.artifacts.append((record.artifact.type, record.artifact.name))
    return run
