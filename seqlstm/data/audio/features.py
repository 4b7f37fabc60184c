"""Log-mel filterbank and MFCC features in torch (batched, on any device).

The mel filterbank is librosa's default (Slaney's mel scale, area-normalised triangles), the
log is ``10 * log10(max(power, 1e-10))`` (librosa's ``power_to_db`` without ``top_db``), and
the MFCCs are the orthonormal type-II DCT of the log-mels; tests check all three against
librosa. Frames are centred (``n_fft // 2`` zeros each side), so ``N`` samples give
``1 + N // hop`` frames.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from seqlstm.errors import ConfigError

FEATURE_KINDS = ("logmel", "mfcc")
AMIN = 1e-10  # the smallest power before the log


@dataclass(frozen=True)
class FeatureConfig:
    """How waveforms become feature frames; carried in ``spec.extra['features']``."""

    kind: str = "logmel"
    sample_rate: int = 16000
    n_mels: int = 40
    n_mfcc: int = 13
    """MFCC only: coefficients kept."""
    win_ms: float = 25.0
    hop_ms: float = 10.0
    n_fft: int = 512
    fmin: float = 20.0
    fmax: float | None = None
    """None: half the sample rate."""

    def __post_init__(self) -> None:
        if self.kind not in FEATURE_KINDS:
            raise ConfigError("data.features.kind", f"one of {list(FEATURE_KINDS)}", self.kind)
        for key in ("sample_rate", "n_mels", "n_mfcc", "n_fft"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"data.features.{key}", "an integer >= 1", value)
        if self.kind == "mfcc" and self.n_mfcc > self.n_mels:
            raise ConfigError("data.features.n_mfcc", f"at most n_mels={self.n_mels}",
                              self.n_mfcc)
        if not 0 < self.win_length <= self.n_fft or self.hop_length < 1:
            raise ConfigError("data.features.win_ms", f"a window of 1 to n_fft={self.n_fft} "
                              "samples and a hop of at least one sample",
                              [self.win_ms, self.hop_ms])

    @property
    def win_length(self) -> int:
        return round(self.sample_rate * self.win_ms / 1000)

    @property
    def hop_length(self) -> int:
        return round(self.sample_rate * self.hop_ms / 1000)

    @property
    def size(self) -> int:
        """Features per frame."""
        return self.n_mfcc if self.kind == "mfcc" else self.n_mels

    def frames(self, samples: int) -> int:
        """Frames of a ``samples``-long waveform."""
        return 1 + samples // self.hop_length

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def hz_to_mel(freq: torch.Tensor) -> torch.Tensor:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa, ``htk=False``)."""
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, math.log(6.4) / 27.0
    mel = freq / f_sp
    log_part = min_log_hz / f_sp + torch.log(freq.clamp(min=min_log_hz) / min_log_hz) / logstep
    return torch.where(freq >= min_log_hz, log_part, mel)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`hz_to_mel`."""
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, math.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return torch.where(mel >= min_log_mel, min_log_hz * torch.exp(logstep * (mel - min_log_mel)),
                       f_sp * mel)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0,
                   fmax: float | None = None) -> torch.Tensor:
    """``(n_mels, n_fft // 2 + 1)`` triangular filters with Slaney area normalisation."""
    fmax = sample_rate / 2 if fmax is None else fmax
    fft_freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    mels = torch.linspace(float(hz_to_mel(torch.tensor(fmin, dtype=torch.float64))),
                          float(hz_to_mel(torch.tensor(fmax, dtype=torch.float64))),
                          n_mels + 2, dtype=torch.float64)
    mel_freqs = mel_to_hz(mels)  # (n_mels + 2,) band edges in Hz
    fdiff = mel_freqs.diff()
    ramps = mel_freqs[:, None] - fft_freqs[None, :]  # (n_mels + 2, n_freq)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = torch.clamp(torch.minimum(lower, upper), min=0)
    weights *= (2.0 / (mel_freqs[2:] - mel_freqs[:-2]))[:, None]  # equal area per filter
    return weights.to(torch.float32)


def dct_matrix(n_input: int, n_output: int) -> torch.Tensor:
    """``(n_input, n_output)``: ``x @ D`` is the orthonormal DCT-II of ``x`` (scipy's
    ``dct(x, type=2, norm='ortho')[..., :n_output]``)."""
    n = torch.arange(n_input, dtype=torch.float64)
    k = torch.arange(n_output, dtype=torch.float64)
    basis = torch.cos(math.pi / n_input * (n[:, None] + 0.5) * k[None, :])  # (n_in, n_out)
    basis *= math.sqrt(2.0 / n_input)
    basis[:, 0] /= math.sqrt(2.0)
    return basis.to(torch.float32)


class FeatureExtractor(nn.Module):
    """Waveforms ``(B, N)`` -> features ``(B, 1 + N // hop, F)``."""

    def __init__(self, config: FeatureConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("window", torch.hann_window(config.win_length), persistent=False)
        self.register_buffer("mel", mel_filterbank(config.sample_rate, config.n_fft,
                                                   config.n_mels, config.fmin, config.fmax),
                             persistent=False)
        self.register_buffer("dct", dct_matrix(config.n_mels, config.n_mfcc), persistent=False)

    def power(self, waveforms: torch.Tensor, center: bool = True) -> torch.Tensor:
        """The power spectrogram ``(B, frames, n_fft // 2 + 1)``."""
        c = self.config
        spec = torch.stft(waveforms, c.n_fft, c.hop_length, c.win_length, self.window,
                          center=center, pad_mode="constant", return_complex=True)
        return spec.abs().pow(2).transpose(1, 2)

    def from_power(self, power: torch.Tensor) -> torch.Tensor:
        """Power frames ``(B, T, n_freq)`` -> features ``(B, T, F)``."""
        logmel = 10.0 * torch.log10((power @ self.mel.T).clamp(min=AMIN))  # (B, T, n_mels)
        return logmel @ self.dct if self.config.kind == "mfcc" else logmel

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        return self.from_power(self.power(waveforms))


class NormalisedFeatures(nn.Module):
    """Padded waveforms ``(B, N)`` and their lengths ``(B,)`` -> features standardised with
    the training statistics ``(B, T, F)`` (zero past each clip's frames) and frame lengths
    ``(B,)``, on the device the waveforms are on (move the module there first)."""

    def __init__(self, config: FeatureConfig, mean: Any, std: Any) -> None:
        super().__init__()
        self.config = config
        self.extractor = FeatureExtractor(config)
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32),
                             persistent=False)
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32), persistent=False)

    @torch.no_grad()
    def forward(self, waves: torch.Tensor, samples: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = 1 + samples // self.config.hop_length
        frames = (self.extractor(waves) - self.mean) / self.std  # (B, T, F)
        steps = torch.arange(frames.size(1), device=frames.device)
        valid = steps < lengths.to(frames.device)[:, None]  # (B, T)
        return frames * valid[..., None], lengths
