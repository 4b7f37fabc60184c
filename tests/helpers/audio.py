"""Tiny synthetic audio for the fast tests: tones and chirps written with soundfile."""

from __future__ import annotations

from pathlib import Path

import numpy as np

RATE = 16000
#: one tone per output unit of the tiny manifests
TONES = {"a": 500.0, "b": 1500.0}


def _tone(freq: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(len(t))


def _chirp(low: float, high: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    freq = low + (high - low) * t / seconds
    phase = 2 * np.pi * np.cumsum(freq) / RATE
    return 0.3 * np.sin(phase) + 0.01 * rng.standard_normal(len(t))


def write(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), samples.astype(np.float32), rate)
    return path


def commands_folder(root: Path, speakers: int = 6, clips: int = 2, lists: bool = True,
                    noise: bool = False) -> Path:
    """A Speech Commands layout: ``up`` (rising chirp) and ``down`` (falling), 0.25 s clips;
    the last speaker is the test speaker, the one before it validation."""
    rng = np.random.default_rng(0)
    names = {"val": [], "test": []}
    for s in range(speakers):
        speaker = f"{s:08x}"
        for word, (low, high) in {"up": (300.0, 2000.0), "down": (2000.0, 300.0)}.items():
            for n in range(clips):
                shift = 1 + 0.05 * s
                rel = f"{word}/{speaker}_nohash_{n}.wav"
                write(root / rel, _chirp(low * shift, high * shift, 0.25, rng))
                if s == speakers - 1:
                    names["test"].append(rel)
                elif s == speakers - 2:
                    names["val"].append(rel)
    if lists:
        (root / "validation_list.txt").write_text("\n".join(names["val"]) + "\n")
        (root / "testing_list.txt").write_text("\n".join(names["test"]) + "\n")
    if noise:
        write(root / "_background_noise_" / "white.wav", 0.1 * rng.standard_normal(RATE * 2))
    return root


def utterance(text: str, rng: np.random.Generator) -> np.ndarray:
    """A tone of 0.12 s per character of ``text`` (``a`` or ``b``), a short gap between."""
    gap = np.zeros(int(RATE * 0.04))
    parts = [gap]
    for ch in text:
        parts += [_tone(TONES[ch], 0.12, rng), gap]
    return np.concatenate(parts)


def manifest_folder(root: Path, per_split: tuple[int, int, int] = (16, 4, 4),
                    suffix: str = "csv") -> Path:
    """``train``, ``valid`` and ``test`` manifests of tone strings over ``a``/``b``."""
    rng = np.random.default_rng(1)
    texts = ["a", "b", "ab", "ba", "aab", "abb", "bab", "aba"]
    for split, count in zip(("train", "valid", "test"), per_split, strict=True):
        rows = []
        for i in range(count):
            text = texts[(i + len(split)) % len(texts)]
            rel = f"{split}/{i:03d}.wav"
            write(root / rel, utterance(text, rng))
            rows.append((rel, text, f"spk{split}{i % 2}"))
        if suffix == "csv":
            lines = ["path,transcript,speaker", *(",".join(r) for r in rows)]
        else:
            import json

            lines = [json.dumps({"path": p, "transcript": t, "speaker": s}) for p, t, s in rows]
        (root / f"{split}.{suffix}").write_text("\n".join(lines) + "\n")
    return root
