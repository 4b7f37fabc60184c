"""``seqlstm-transcribe FILE... ckpt_path=CKPT``: one transcript per audio file, from a CTC
checkpoint alone."""

from __future__ import annotations

import math

from omegaconf import DictConfig

from seqlstm.errors import ConfigError

DECODERS = (None, "greedy", "beam")


def transcribe_files(cfg: DictConfig) -> list[tuple[str, str]]:
    """``(file, transcript)`` for every file of ``cfg.files``: the whole file decoded
    ``cfg.decoder`` (None: the checkpoint's decoder), or with ``cfg.chunk_ms`` pushed in chunks
    of that many milliseconds through a stream (unidirectional models; greedy). Every file is
    transcribed before any is returned, so a missing or unreadable one stops the command with
    nothing printed."""
    from seqlstm.data.audio.decode import read_audio
    from seqlstm.inference import Predictor
    from seqlstm.tasks import CTCRecognizer

    files = [str(f) for f in cfg.files or []]
    if not files:
        raise ConfigError("files", "one or more audio files (seqlstm-transcribe FILE... "
                          "ckpt_path=CKPT)", [])
    if cfg.decoder not in DECODERS:
        raise ConfigError("decoder", "greedy, beam or null (the checkpoint's)", cfg.decoder)
    chunk_ms = cfg.chunk_ms
    if chunk_ms is not None and (isinstance(chunk_ms, bool) or not isinstance(
            chunk_ms, (int, float)) or not math.isfinite(chunk_ms) or chunk_ms <= 0):
        raise ConfigError("chunk_ms", "a number of milliseconds > 0, or null (whole files)",
                          chunk_ms)
    predictor = Predictor.from_checkpoint(cfg.ckpt_path, cfg.device, CTCRecognizer)
    task = predictor.require(CTCRecognizer)
    rate = task.spec.extra["features"]["sample_rate"]
    stream = predictor.audio_stream() if chunk_ms is not None else None
    step = max(1, round(rate * (chunk_ms or 0) / 1000))
    results = []
    for path in files:
        samples = read_audio(path, rate)  # one DataError line naming the file
        if stream is None:
            text = predictor.transcribe(samples, decoder=cfg.decoder or task.decoder)
        else:
            for start in range(0, len(samples), step):
                stream.push(samples[start : start + step])
            text = stream.finish()
        results.append((path, text))
    return results


def command(cfg: DictConfig) -> None:
    """Print ``FILE<TAB>transcript``, one line per file, in the order given."""
    for path, text in transcribe_files(cfg):
        print(f"{path}\t{text}")


if __name__ == "__main__":
    from seqlstm.cli.scripts import transcribe

    transcribe()
