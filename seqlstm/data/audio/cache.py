"""Decoding a list of clips, and their feature frames, optionally cached on disk.

The cache key is a hash of the feature settings and of every clip's path, size and
modification time, so an edited clip or another setting never reads stale features. Entries
are written to a temporary file and renamed into place (never half a file).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from seqlstm.data.audio.batches import Ragged
from seqlstm.data.audio.decode import read_audio
from seqlstm.data.audio.features import FeatureConfig, FeatureExtractor
from seqlstm.data.audio.layouts import Clip

#: waveforms decoded per feature batch (bounds the padded batch's memory)
CHUNK = 64


def decode_clips(clips: Sequence[Clip], sample_rate: int) -> Ragged:
    """Every clip's samples at ``sample_rate``, as ragged ``(N_i,)`` float32."""
    return Ragged.from_list([read_audio(clip.path, sample_rate, clip.start, clip.stop)
                             for clip in clips])


def waveform_features(waves: Ragged, extractor: FeatureExtractor) -> Ragged:
    """Feature frames ``(T_i, F)`` of ragged waveforms, computed in padded batches."""
    frames = []
    for start in range(0, len(waves), CHUNK):
        indices = list(range(start, min(start + CHUNK, len(waves))))
        batch, lengths = waves.padded(indices)
        with torch.no_grad():
            features = extractor(batch).numpy()  # (B, T_max, F)
        frames.extend(features[row, : extractor.config.frames(int(n))]
                      for row, n in enumerate(lengths))
    return Ragged.from_list(frames)


def cache_key(clips: Sequence[Clip], config: FeatureConfig) -> str:
    digest = hashlib.sha256(json.dumps(config.as_dict(), sort_keys=True).encode())
    for clip in clips:
        stat = clip.path.stat()
        digest.update(f"{clip.path}|{stat.st_size}|{stat.st_mtime_ns}|{clip.start}|{clip.stop}\n"
                      .encode())
    return digest.hexdigest()[:24]


def clip_features(clips: Sequence[Clip], extractor: FeatureExtractor,
                  cache_dir: str | Path | None = None) -> Ragged:
    """The feature frames of ``clips``, read from ``cache_dir`` when computed before."""
    if cache_dir is None:
        return waveform_features(decode_clips(clips, extractor.config.sample_rate), extractor)
    path = Path(cache_dir) / f"features-{cache_key(clips, extractor.config)}.npz"
    if path.is_file():
        with np.load(path) as saved:
            return Ragged(saved["values"], saved["offsets"])
    frames = waveform_features(decode_clips(clips, extractor.config.sample_rate), extractor)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as out:
        np.savez(out, values=frames.values, offsets=frames.offsets)
    os.replace(tmp, path)
    return frames
