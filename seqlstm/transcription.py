"""Transcribing audio with a trained CTC model, offline or pushed in chunks.

:class:`AudioStream` carries everything between pushes: the samples not yet framed, the
normalised frames not yet stacked, the recurrent state and the greedy path so far. It frames
exactly as the offline features do (centred frames: ``n_fft // 2`` zeros before the first
sample and after the last), so the transcript after :meth:`AudioStream.finish` equals offline
greedy decoding of the whole utterance. Streaming needs a unidirectional encoder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from seqlstm.data.audio.decode import read_audio
from seqlstm.data.audio.features import FeatureConfig, FeatureExtractor
from seqlstm.errors import CheckpointError, DataError
from seqlstm.tasks import CTCRecognizer


class AudioFrontEnd:
    """The checkpoint's feature settings and training statistics: samples -> normalised
    frames."""

    def __init__(self, task: CTCRecognizer) -> None:
        extra = task.spec.extra
        if "features" not in extra:
            raise CheckpointError("the checkpoint's spec carries no audio feature settings")
        self.config = FeatureConfig(**extra["features"])
        self.extractor = FeatureExtractor(self.config).to(task.device)
        self.mean = torch.tensor(extra["mean"], dtype=torch.float32, device=task.device)
        self.std = torch.tensor(extra["std"], dtype=torch.float32, device=task.device)

    def normalise(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean) / self.std

    def frames(self, samples: torch.Tensor) -> torch.Tensor:
        """Normalised frames ``(T, F)`` of a whole utterance ``(N,)`` (centred framing)."""
        return self.normalise(self.extractor(samples[None]))[0]

    def uncentred(self, padded: torch.Tensor, count: int) -> torch.Tensor:
        """The first ``count`` normalised frames ``(count, F)`` of already padded samples."""
        c = self.config
        used = padded[: (count - 1) * c.hop_length + c.n_fft]
        power = self.extractor.power(used[None], center=False)  # (1, count, n_freq)
        return self.normalise(self.extractor.from_power(power))[0]


Audio = np.ndarray | torch.Tensor | list | str | Path


def as_samples(samples: Audio, device: torch.device, rate: int | None = None) -> torch.Tensor:
    """Mono float32 samples ``(N,)`` on ``device``; a path is decoded and resampled to
    ``rate``."""
    if isinstance(samples, (str, Path)):
        samples = read_audio(samples, rate)
    tensor = torch.as_tensor(np.asarray(samples, dtype=np.float32), device=device)
    if tensor.dim() != 1:
        raise DataError(f"expected mono samples (N,), got shape {tuple(tensor.shape)}")
    return tensor


class AudioStream:
    """Transcribe audio pushed in chunks; see the module docstring."""

    def __init__(self, task: CTCRecognizer, front: AudioFrontEnd | None = None) -> None:
        if task.encoder.config.bidirectional:
            raise CheckpointError("streaming needs a unidirectional encoder (the backward "
                                  "direction reads the future); transcribe whole files instead")
        self.task, self.front = task, front or AudioFrontEnd(task)
        self.reset()

    def reset(self) -> None:
        """Start a new utterance."""
        device = self.task.device
        self.buffer = torch.zeros(self.front.config.n_fft // 2, device=device)  # left padding
        self.pending = torch.zeros(0, self.front.config.size, device=device)  # unstacked frames
        self.samples = self.frames = 0
        self.state = None
        self.ids: list[int] = []
        self.last = self.task.blank

    @property
    def text(self) -> str:
        """The transcript so far."""
        return self.task.text(self.ids)

    @torch.inference_mode()
    def push(self, samples: np.ndarray | torch.Tensor | list) -> str:
        """Add samples ``(N,)`` at the model's sample rate; returns the partial transcript."""
        chunk = as_samples(samples, self.task.device)
        self.buffer = torch.cat([self.buffer, chunk])
        self.samples += len(chunk)
        c = self.front.config
        ready = (len(self.buffer) - c.n_fft) // c.hop_length + 1
        if ready > 0:
            self._frames(self.front.uncentred(self.buffer, ready))
            self.buffer = self.buffer[ready * c.hop_length :]
        self._decode(final=False)
        return self.text

    @torch.inference_mode()
    def finish(self) -> str:
        """End the utterance: frame the tail, decode it; returns the final transcript and
        resets the stream."""
        c = self.front.config
        remaining = c.frames(self.samples) - self.frames
        if remaining > 0:
            padded = torch.cat([self.buffer, self.buffer.new_zeros(c.n_fft // 2)])
            self._frames(self.front.uncentred(padded, remaining))
        self._decode(final=True)
        text = self.text
        self.reset()
        return text

    def _frames(self, frames: torch.Tensor) -> None:
        self.pending = torch.cat([self.pending, frames])
        self.frames += len(frames)

    def _decode(self, final: bool) -> None:
        """Run the encoder over the whole stacks of pending frames (all of them, zero-padded,
        when ``final``) and extend the greedy path."""
        k = self.task.stack
        usable = len(self.pending) if final else len(self.pending) // k * k
        if usable == 0:
            return
        outputs, self.state = self.task(self.pending[None, :usable], self.state)  # (1, S, C+1)
        self.pending = self.pending[usable:]
        for unit in outputs[0].argmax(-1).tolist():
            if unit != self.task.blank and unit != self.last:
                self.ids.append(unit)
            self.last = unit


@torch.inference_mode()
def transcribe(task: CTCRecognizer, samples: Audio, front: AudioFrontEnd | None = None,
               decoder: str = "greedy") -> str:
    """The transcript of one whole utterance: samples ``(N,)`` at the model's rate, or an
    audio file (greedy or beam decoding)."""
    front = front or AudioFrontEnd(task)
    frames = front.frames(as_samples(samples, task.device, front.config.sample_rate))  # (T, F)
    lengths = torch.tensor([len(frames)])
    outputs, _ = task(frames[None], lengths=lengths)
    return task.text(task.decode(outputs, task.stacked_lengths(lengths), decoder)[0])
