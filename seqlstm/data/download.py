"""Fetching a corpus once, with a checksum; offline, a clear message says what to do."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path

from seqlstm.errors import DataError
from seqlstm.files import atomic_file


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest: str | Path, sha256: str | None = None, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``dest`` unless it is already there, and verify ``sha256``.

    The file is written under a temporary name and renamed into place only once complete and
    verified, so an interrupted or corrupted download never leaves a file at ``dest``.
    """
    dest = Path(dest)
    if dest.is_file():
        if sha256 and sha256_of(dest) != sha256:
            raise DataError(f"{dest}: sha256 does not match the expected {sha256}; delete it "
                            f"to download it again from {url}")
        return dest
    try:
        with atomic_file(dest) as out, urllib.request.urlopen(url, timeout=timeout) as response:
            digest = hashlib.sha256()
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
                digest.update(block)
            if sha256 and (actual := digest.hexdigest()) != sha256:
                raise DataError(f"download of {url}: sha256 {actual} does not match {sha256}")
    except (urllib.error.URLError, OSError) as err:
        raise DataError(f"could not download {url} ({err}); offline, place the file at "
                        f"{dest} or point data.path at a local copy") from None
    return dest
