"""The keyword-spotting class set: chosen words, an ``_unknown_`` class and ``_silence_``.

Speech Commands v1's 12-class task (Warden 2018; Hello Edge) keeps ten words, folds every other
word into ``_unknown_`` (sampled down to a share of each split) and adds ``_silence_`` clips cut
from the background-noise recordings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seqlstm.data.audio.layouts import Clip
from seqlstm.errors import ConfigError, DataError

UNKNOWN, SILENCE = "_unknown_", "_silence_"


def select_words(clips: list[Clip], words: list[str] | None, unknown_fraction: float,
                 rng: np.random.Generator) -> list[Clip]:
    """``clips`` with words outside ``words`` relabelled ``_unknown_`` and kept for about
    ``unknown_fraction`` of the known clips (all clips unchanged when ``words`` is None)."""
    if words is None:
        return clips
    known = [c for c in clips if c.label in words]
    others = [c for c in clips if c.label not in words]
    keep = min(len(others), round(unknown_fraction * len(known)))
    chosen = sorted(rng.choice(len(others), keep, replace=False).tolist()) if keep else []
    return known + [Clip(others[i].path, UNKNOWN, others[i].speaker, others[i].where)
                    for i in chosen]


def silence_clips(noise: list[Path], count: int, sample_rate_of: dict[Path, tuple[int, int]],
                  rng: np.random.Generator, fraction: float = 0.0) -> list[Clip]:
    """``count`` one-second ``_silence_`` segments at random places of the noise files
    (``sample_rate_of`` maps each file to its (rate, frames); ``fraction`` is the configured
    share, for the error message)."""
    if count and not noise:
        raise ConfigError("data.silence_fraction", "0 for data without a _background_noise_ "
                          "folder (silence clips are cut from it)", fraction)
    clips = []
    for _ in range(count):
        path = noise[int(rng.integers(len(noise)))]
        rate, frames = sample_rate_of[path]
        if frames < rate:
            raise DataError(f"{path}: a background-noise file shorter than one second")
        start = int(rng.integers(frames - rate + 1))
        clips.append(Clip(path, SILENCE, SILENCE, str(path), start, start + rate))
    return clips


def class_labels(train: list[Clip], words: list[str] | None, silence: bool) -> list[str]:
    """The class names by id: ``words`` (+ ``_unknown_``, ``_silence_``) or the training
    split's sorted labels."""
    if words is None:
        labels = sorted({c.label for c in train if c.label is not None})
        return labels + ([SILENCE] if silence else [])
    return [*words, UNKNOWN, *([SILENCE] if silence else [])]
