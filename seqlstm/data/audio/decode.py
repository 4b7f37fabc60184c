"""Reading audio files: decode with soundfile, mix to mono, resample with a windowed sinc.

Every failure is one :class:`DataError` line naming the file: unreadable or truncated audio, an
empty file, a file with no samples, or a sample rate the resampler refuses.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from seqlstm.errors import DataError

#: the sample rates the resampler accepts (either side of a conversion)
MIN_RATE, MAX_RATE = 1000, 384_000
#: the largest reduced up/down factor (e.g. 16000 -> 44100 is 441/160): beyond it the filter
#: bank would need thousands of phases
MAX_FACTOR = 1000
INSTALL_HINT = "pip install 'seqlstm[audio]'"


def soundfile_module():
    """The ``soundfile`` module, or one line saying how to install it."""
    try:
        import soundfile
    except ImportError:  # pragma: no cover - exercised by monkeypatching sys.modules
        raise DataError(f"reading audio needs the soundfile package: {INSTALL_HINT}") from None
    return soundfile


def read_audio(path: str | Path, sample_rate: int, start: int = 0,
               stop: int | None = None) -> np.ndarray:
    """The samples of ``path`` (its samples ``[start, stop)`` at the file's own rate) as
    float32 mono ``(N,)`` in [-1, 1] at ``sample_rate`` Hz."""
    soundfile = soundfile_module()
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as err:
        raise DataError(f"{path}: cannot read the audio file ({err.strerror})") from None
    if size == 0:
        raise DataError(f"{path}: the audio file is empty (0 bytes)")
    try:
        samples, rate = soundfile.read(str(path), start=start, stop=stop, dtype="float32",
                                        always_2d=True)  # (N, ch)
    except Exception as err:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise DataError(f"{path}: unreadable or truncated audio ({reason})") from None
    if samples.shape[0] == 0:
        raise DataError(f"{path}: the audio file holds no samples (empty or truncated)")
    missing = wav_shortfall(path, size)
    if missing:
        raise DataError(f"{path}: truncated audio (the WAV header declares {missing} more "
                        "bytes of samples than the file holds)")
    mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    try:
        return resample(mono, rate, sample_rate)
    except DataError as err:
        raise DataError(f"{path}: {err}") from None


def wav_shortfall(path: Path, size: int) -> int:
    """How many bytes of samples a WAV file's header declares beyond the file's end (0 for
    complete files and other formats; libsndfile reads a cut WAV file without a word)."""
    with open(path, "rb") as handle:
        if handle.read(4) != b"RIFF" or (handle.read(4) and handle.read(4) != b"WAVE"):
            return 0
        while header := handle.read(8):
            if len(header) < 8:
                return 0
            name, length = header[:4], int.from_bytes(header[4:], "little")
            if name == b"data":
                return 0 if length == 0xFFFFFFFF else max(length - (size - handle.tell()), 0)
            handle.seek(length + (length & 1), 1)
    return 0


def check_rates(source: int, target: int) -> tuple[int, int]:
    """The reduced (up, down) factors of ``source -> target``, or a :class:`DataError`."""
    for name, rate in (("sample rate", source), ("target sample rate", target)):
        if not MIN_RATE <= rate <= MAX_RATE:
            raise DataError(f"{name} {rate} Hz is outside what the resampler accepts "
                            f"({MIN_RATE}-{MAX_RATE} Hz)")
    gcd = math.gcd(source, target)
    up, down = target // gcd, source // gcd
    if max(up, down) > MAX_FACTOR:
        raise DataError(f"the resampler refuses {source} Hz -> {target} Hz (ratio {up}/{down}; "
                        f"factors above {MAX_FACTOR} are not supported)")
    return up, down


def resample(samples: np.ndarray, source: int, target: int) -> np.ndarray:
    """``samples`` ``(N,)`` from ``source`` Hz to ``target`` Hz (band-limited sinc
    interpolation, Hann-windowed, as torchaudio's default); ``ceil(N * target / source)``
    samples come out."""
    up, down = check_rates(source, target)
    if up == down:
        return samples.astype(np.float32, copy=False)
    kernel, width = _sinc_kernel(up, down)  # (up, 1, K)
    x = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    x = torch.nn.functional.pad(x[None, None], (width, width + down))  # (1, 1, N + pads)
    out = torch.nn.functional.conv1d(x, kernel, stride=down)  # (1, up, frames)
    out = out.transpose(1, 2).reshape(-1)  # interleave the phases
    length = math.ceil(len(samples) * up / down)
    return out[:length].numpy()


@lru_cache(maxsize=16)
def _sinc_kernel(up: int, down: int, zeros: int = 6, rolloff: float = 0.99
                 ) -> tuple[torch.Tensor, int]:
    """One windowed-sinc filter per output phase ``(up, 1, K)``, and the input padding."""
    cutoff = min(up, down) * rolloff
    width = math.ceil(zeros * down / cutoff)
    idx = torch.arange(-width, width + down, dtype=torch.float64)[None] / down  # (1, K)
    t = (-torch.arange(up, dtype=torch.float64)[:, None] / up + idx) * cutoff  # (up, K)
    t = t.clamp(-zeros, zeros)
    window = torch.cos(t * math.pi / zeros / 2) ** 2
    t = t * math.pi
    kernel = torch.where(t == 0, torch.ones_like(t), torch.sin(t) / t) * window * cutoff / down
    return kernel.to(torch.float32)[:, None], width
