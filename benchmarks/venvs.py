"""One virtual environment per peer under ``.bench-venvs/``: the CPU torch first, then the peer.

Each peer's runner (``benchmarks/runners/*.py``) runs inside its own environment, so the peers'
pins never meet seqlstm's. Installing is idempotent: a ``.installed`` marker holding the
requirement list skips a venv that is already set up with the same pins.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_DIR = ROOT / ".bench-venvs"
#: the CPU build; an unpinned torch would pull a multi-GB CUDA build
TORCH = "torch==2.13.0"


@dataclass(frozen=True)
class Peer:
    """A peer library and the pip requirements its venv gets after torch."""

    name: str
    requirements: tuple[str, ...]
    version_of: tuple[str, ...]
    """Distributions whose versions the report names."""
    torch: bool = True
    """Install the CPU torch first (a peer without torch, like scikit-learn, skips it)."""

    @property
    def venv(self) -> Path:
        return VENV_DIR / self.name

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


PEERS: dict[str, Peer] = {
    peer.name: peer
    for peer in (
        Peer("darts", ("darts[torch]==0.48.1",), ("darts", "torch", "lightning")),
        Peer("pytorch-forecasting", ("pytorch-forecasting==1.8.0",),
             ("pytorch-forecasting", "torch", "lightning")),
        Peer("neuralforecast", ("neuralforecast==3.3.0",), ("neuralforecast", "torch")),
        Peer("keras", ("tensorflow-cpu==2.21.0", "keras==3.15.1"),
             ("keras", "tensorflow-cpu", "torch")),
        Peer("sklearn", ("scikit-learn==1.9.1",), ("scikit-learn",), torch=False),
    )
}


def ensure_venv(peer: Peer, quiet: bool = True) -> Path:
    """Create ``peer``'s venv if missing or stale; returns its python."""
    marker = peer.venv / ".installed"
    torch = [TORCH] if peer.torch else []
    wanted = json.dumps([*torch, *peer.requirements])
    if marker.is_file() and marker.read_text() == wanted:
        return peer.python
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--clear", str(peer.venv)], check=True)
    pip = [str(peer.python), "-m", "pip", "install", *(["-q"] if quiet else [])]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    if not peer.torch:
        subprocess.run([*pip, *peer.requirements], check=True)
        marker.write_text(wanted)
        return peer.python
    subprocess.run([*pip, TORCH], check=True)
    # torch stays pinned while the peer installs, so pip cannot swap in another build
    constraint = peer.venv / "torch-constraint.txt"
    constraint.write_text(TORCH + "\n")
    subprocess.run([*pip, "-c", str(constraint), *peer.requirements], check=True)
    marker.write_text(wanted)
    return peer.python


def run_runner(python: Path | str, script: str, args: list[str],
               env: dict[str, str | None] | None = None, timeout: float = 1800) -> dict:
    """Run ``benchmarks/runners/<script>`` with ``python``; parse the JSON on its last line.
    An ``env`` value of None removes that variable."""
    merged = {**os.environ, **(env or {})}
    full_env = {key: value for key, value in merged.items() if value is not None}
    proc = subprocess.run([str(python), str(ROOT / "benchmarks" / "runners" / script), *args],
                          capture_output=True, text=True, env=full_env, timeout=timeout)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{script} with {python} failed (exit {proc.returncode}):\n"
                           f"{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def main(names: list[str]) -> None:
    """Set up the named peers' venvs (all when empty)."""
    for name in names or list(PEERS):
        print(f"setting up {name} in {PEERS[name].venv}", flush=True)
        ensure_venv(PEERS[name], quiet=False)


if __name__ == "__main__":
    main(sys.argv[1:])
