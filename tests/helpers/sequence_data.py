"""A small labelled-sequence file for the sequence and classifier tests."""

from __future__ import annotations

from pathlib import Path


def toy_sequences(tmp_path: Path) -> Path:
    """A long-format CSV of 12 labelled sequences of 2 to 6 steps, 2 features."""
    rows = [f"{seq},{step},{(seq * step) % 7},{step - seq},{'ab'[seq % 2]}"
            for seq in range(12) for step in range(2 + seq % 5)]
    path = tmp_path / "sequences.csv"
    path.write_text("sequence,step,x,y,label\n" + "\n".join(rows) + "\n")
    return path
