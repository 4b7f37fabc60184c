"""Training-only augmentation: gain and additive noise on waveforms, SpecAugment on features.

All randomness comes from one ``torch.Generator`` the data module seeds, so an epoch's
augmented batches are reproducible.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from seqlstm.errors import ConfigError


@dataclass(frozen=True)
class AugmentConfig:
    """What the training split gets; all off by default (``data.augment.*``)."""

    gain_db: float = 0.0
    """Scale each clip by a random gain in [-gain_db, +gain_db] dB."""
    noise_prob: float = 0.0
    """Share of clips that get additive noise (background clips when the data has them, else
    white noise)."""
    snr_db: tuple[float, float] = (5.0, 30.0)
    """Signal-to-noise ratio range of the added noise, in dB."""
    time_masks: int = 0
    """SpecAugment: time masks per clip, each up to ``time_mask_frames`` frames wide."""
    time_mask_frames: int = 10
    freq_masks: int = 0
    """SpecAugment: frequency masks per clip, each up to ``freq_mask_bins`` features wide."""
    freq_mask_bins: int = 8
    time_shift_ms: float = 0.0
    """Shift each clip by a random offset of up to this many milliseconds (zeros fill in)."""

    def __post_init__(self) -> None:
        for key in ("gain_db", "time_shift_ms"):
            if getattr(self, key) < 0:
                raise ConfigError(f"data.augment.{key}", "a number >= 0", getattr(self, key))
        if not 0 <= self.noise_prob <= 1:
            raise ConfigError("data.augment.noise_prob", "a number in [0, 1]", self.noise_prob)
        low, high = self.snr_db
        if low > high:
            raise ConfigError("data.augment.snr_db", "[low, high] with low <= high",
                              list(self.snr_db))
        for key in ("time_masks", "time_mask_frames", "freq_masks", "freq_mask_bins"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"data.augment.{key}", "an integer >= 0", value)

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> AugmentConfig:
        config = dict(config or {})
        if "snr_db" in config:
            config["snr_db"] = tuple(config["snr_db"])
        try:
            return cls(**config)
        except TypeError:
            raise ConfigError("data.augment", f"only the keys {sorted(asdict(cls()))}",
                              sorted(config)) from None

    @property
    def waveform(self) -> bool:
        """Whether any augmentation acts on waveforms (then features are made per batch)."""
        return self.gain_db > 0 or self.noise_prob > 0 or self.time_shift_ms > 0

    @property
    def active(self) -> bool:
        return self.waveform or self.time_masks > 0 or self.freq_masks > 0


def augment_waveforms(waves: torch.Tensor, lengths: torch.Tensor, config: AugmentConfig,
                      noise: list[torch.Tensor], sample_rate: int,
                      generator: torch.Generator) -> torch.Tensor:
    """Shift, gain and noise for a padded batch ``(B, N)``; padding stays zero."""
    batch, total = waves.shape
    out = waves.clone()
    valid = torch.arange(total) < lengths[:, None]  # (B, N)
    if config.time_shift_ms > 0:
        limit = int(sample_rate * config.time_shift_ms / 1000)
        shifts = torch.randint(-limit, limit + 1, (batch,), generator=generator)
        for b in range(batch):
            out[b] = _shift(out[b], int(shifts[b]), int(lengths[b]))
    if config.gain_db > 0:
        gains = (torch.rand(batch, generator=generator) * 2 - 1) * config.gain_db
        out *= (10 ** (gains / 20))[:, None]
    if config.noise_prob > 0:
        chosen = torch.rand(batch, generator=generator) < config.noise_prob
        low, high = config.snr_db
        snrs = low + torch.rand(batch, generator=generator) * (high - low)
        for b in chosen.nonzero().flatten().tolist():
            n = int(lengths[b])
            clip = _noise_clip(noise, n, generator)
            signal = out[b, :n].pow(2).mean().clamp(min=1e-10)
            scale = (signal / clip.pow(2).mean().clamp(min=1e-10) / 10 ** (snrs[b] / 10)).sqrt()
            out[b, :n] += clip * scale
    return out * valid


def _shift(wave: torch.Tensor, shift: int, length: int) -> torch.Tensor:
    """``wave`` (N,) with its first ``length`` samples moved by ``shift`` (zeros fill in)."""
    moved = torch.zeros_like(wave)
    if shift >= 0:
        moved[shift:length] = wave[: max(length - shift, 0)]
    else:
        moved[: length + shift] = wave[-shift:length]
    return moved


def _noise_clip(noise: list[torch.Tensor], length: int, generator: torch.Generator
                ) -> torch.Tensor:
    """``length`` samples of a random background clip (looped if short), or white noise."""
    if not noise:
        return torch.randn(length, generator=generator)
    source = noise[int(torch.randint(len(noise), (1,), generator=generator))]
    if len(source) < length:
        source = source.repeat(length // len(source) + 1)
    start = int(torch.randint(len(source) - length + 1, (1,), generator=generator))
    return source[start : start + length]


def spec_augment(features: torch.Tensor, lengths: torch.Tensor, config: AugmentConfig,
                 generator: torch.Generator) -> torch.Tensor:
    """SpecAugment masks (set to 0, the normalised mean) on ``(B, T, F)`` features."""
    return apply_masks(features, *draw_masks(lengths, features.size(2), config, generator))


def draw_masks(lengths: torch.Tensor, width: int, config: AugmentConfig,
               generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """SpecAugment's random masks for clips of ``lengths`` frames and ``width`` features:
    ``time`` ``(B, time_masks, 2)`` and ``freq`` ``(B, freq_masks, 2)`` (start, size) pairs.
    Drawn apart from :func:`apply_masks`, so the loader can draw them on the CPU and the masks
    be applied wherever the features are made (the same numbers either way)."""
    lengths = lengths.cpu()
    batch = len(lengths)
    time, freq = [], []
    for _ in range(config.time_masks):
        size = torch.randint(config.time_mask_frames + 1, (batch,), generator=generator)
        room = (lengths - size).clamp(min=1)
        start = (torch.rand(batch, generator=generator) * room).long()
        time.append(torch.stack([start, size], 1))
    for _ in range(config.freq_masks):
        size = torch.randint(min(config.freq_mask_bins, width) + 1, (batch,),
                             generator=generator)
        start = (torch.rand(batch, generator=generator) * (width - size + 1)).long()
        freq.append(torch.stack([start, size], 1))
    empty = torch.zeros(batch, 0, 2, dtype=torch.long)
    return (torch.stack(time, 1) if time else empty, torch.stack(freq, 1) if freq else empty)


def apply_masks(features: torch.Tensor, time: torch.Tensor, freq: torch.Tensor
                ) -> torch.Tensor:
    """``(B, T, F)`` features with the (start, size) masks of :func:`draw_masks` set to 0."""
    _, steps, width = features.shape
    device = features.device
    time, freq = time.to(device), freq.to(device)
    steps_at = torch.arange(steps, device=device)[None, None, :]  # (1, 1, T)
    bins_at = torch.arange(width, device=device)[None, None, :]  # (1, 1, F)
    masked_t = ((steps_at >= time[..., :1]) & (steps_at < time[..., :1] + time[..., 1:])
                ).any(1)  # (B, T)
    masked_f = ((bins_at >= freq[..., :1]) & (bins_at < freq[..., :1] + freq[..., 1:])
                ).any(1)  # (B, F)
    return features * ~(masked_t[:, :, None] | masked_f[:, None, :])
