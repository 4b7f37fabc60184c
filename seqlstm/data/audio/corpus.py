"""Fetching Google's Speech Commands corpus (Warden 2018) once, into the layout ``data=audio``
reads (a folder per word, the two lists, ``_background_noise_``)."""

from __future__ import annotations

import tarfile
from pathlib import Path

from seqlstm.data.download import download
from seqlstm.errors import DataError

#: version -> (archive URL, folder name)
SPEECH_COMMANDS = {
    1: ("http://download.tensorflow.org/data/speech_commands_v0.01.tar.gz",
        "speech_commands_v0.01"),
    2: ("http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
        "speech_commands_v0.02"),
}


def speech_commands(root: str | Path, version: int = 1, url: str | None = None,
                    sha256: str | None = None) -> Path:
    """Download (once) and unpack Speech Commands ``version`` under ``root``; returns the
    folder to pass as ``data.path``. ``url`` replaces the official archive (a mirror, or a
    local ``file://`` copy); the archive is unpacked into a temporary folder and renamed into
    place, so an interrupted unpacking leaves nothing half-written."""
    if version not in SPEECH_COMMANDS:
        raise DataError(f"Speech Commands version {version} does not exist (known: "
                        f"{sorted(SPEECH_COMMANDS)})")
    official, name = SPEECH_COMMANDS[version]
    root = Path(root)
    folder = root / name
    if (folder / "testing_list.txt").is_file():
        return folder
    archive = download(url or official, root / f"{name}.tar.gz", sha256)
    staging = root / f".{name}.partial"
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(staging, filter="data")
    except (tarfile.TarError, OSError) as err:
        raise DataError(f"{archive}: cannot unpack the Speech Commands archive ({err}); delete "
                        "it to download it again") from None
    if not (staging / "testing_list.txt").is_file():
        raise DataError(f"{archive}: not a Speech Commands archive (no testing_list.txt)")
    staging.rename(folder)
    return folder
