"""Speech recipes on the shared synthesised corpora, and streaming transcription speed.

1. Trains the documented recipes (``experiment=kws_lstm`` on ``spoken_commands``,
   ``experiment=ctc_digits`` and ``ctc_digits_streaming`` on ``spoken_digits``) and, for the
   robustness report, the first two without augmentation and without augmentation or
   normalisation; prints test accuracy / CER / WER (greedy and beam) on the test speakers
   (disjoint from the training and validation speakers) and each run's wall time.
2. Streams every test utterance of ``spoken_digits`` through the streaming recipe's best
   checkpoint in 100 ms chunks on one CPU thread: exact matches with offline greedy decoding,
   and the real-time factor (processing time / audio duration) of streaming and of offline
   decoding.

Each trained run is also scored on its test clips with white noise added at ``--snr`` dB (a
harder condition than any split saw: the shared clips have 15-40 dB SNR).

    python -m benchmarks speech [--data ../shared/data] [--out bench-speech] [--only kws|ctc]
        [--chunk-ms 100] [--ckpt CKPT (skip training; stream with this checkpoint)]
        [--snr 10 0] [--evaluate NAME=CKPT ...] [OVERRIDE ...]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
#: (name, experiment, data folder, overrides)
RUNS = [
    ("kws recipe (augmented, normalised)", "kws_lstm", "spoken_commands", []),
    ("kws without augmentation", "kws_lstm", "spoken_commands", ["data.augment=null"]),
    ("kws without augmentation or normalisation", "kws_lstm", "spoken_commands",
     ["data.augment=null", "data.normalize=false"]),
    ("ctc recipe (augmented, normalised)", "ctc_digits", "spoken_digits", []),
    ("ctc without augmentation", "ctc_digits", "spoken_digits", ["data.augment=null"]),
    ("ctc without augmentation or normalisation", "ctc_digits", "spoken_digits",
     ["data.augment=null", "data.normalize=false"]),
    ("ctc streaming recipe (unidirectional)", "ctc_digits_streaming", "spoken_digits", []),
]
STREAMING = "ctc streaming recipe (unidirectional)"
COLUMNS = ("test/acc", "test/cer", "test/wer", "test/cer_beam", "test/wer_beam")


def train_run(experiment: str, data: Path, overrides: list[str], out: Path) -> tuple[dict, float]:
    """Train one recipe in this process; returns its metrics and wall seconds."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    from seqlstm.cli.train import train
    from seqlstm.configs import config_dir

    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("train", overrides=[f"experiment={experiment}", f"data.path={data}",
                                          "quiet=true",
                                          f"data.cache_dir={out / 'cache'}", *overrides],
                      return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.root_dir = str(out)
        cfg.paths.output_dir = cfg.hydra.runtime.output_dir = str(out / f"run-{time.time_ns()}")
    HydraConfig.instance().set_config(cfg)
    start = time.perf_counter()
    metrics = train(cfg)
    best = sorted(Path(cfg.paths.output_dir, "checkpoints").glob("epoch*.ckpt"))
    metrics["ckpt"] = str(best[-1]) if best else ""
    return metrics, time.perf_counter() - start


def noisy_copy(data: Path, snr_db: float, out: Path, seed: int = 0) -> Path:
    """The test clips of ``data`` with white noise at ``snr_db`` dB, written once under
    ``out``: a folder of word folders without lists (scored whole) or a manifest."""
    import numpy as np
    import soundfile

    from seqlstm.data.audio.decode import read_audio
    from seqlstm.data.audio.layouts import discover

    layout = discover(data)
    target = out / f"noisy-{data.name}-{snr_db:g}dB"
    manifest = target / "test.csv"
    result = target if layout.kind == "commands" else manifest
    if (target / "done").is_file():
        return result
    rng = np.random.default_rng(seed)
    rows = ["path,transcript,speaker"]
    for clip in layout.splits["test"]:
        samples = read_audio(clip.path, 16000)
        noise = rng.standard_normal(len(samples))
        power = max(float(np.mean(samples**2)), 1e-10)
        noisy = samples + noise * np.sqrt(power / 10 ** (snr_db / 10))
        name = clip.path.relative_to(data).with_suffix(".wav") if layout.kind == "commands" \
            else Path("test") / f"{clip.path.stem}.wav"
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(target / name), noisy.astype(np.float32), 16000)
        rows.append(f"{name.as_posix()},{clip.label},{clip.speaker}")
    if layout.kind != "commands":
        manifest.write_text("\n".join(rows) + "\n")
    (target / "done").write_text("")
    return result


def evaluate_on(ckpt: str, data_path: Path) -> dict[str, float]:
    """``seqlstm-eval ckpt_path=CKPT data_path=DATA`` in this process."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    from seqlstm.cli.evaluate import evaluate
    from seqlstm.configs import config_dir

    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("eval", overrides=[f"ckpt_path={ckpt}", f"data_path={data_path}"],
                      return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with contextlib.redirect_stdout(io.StringIO()):  # Lightning's table of the same numbers
        return evaluate(cfg)


def stream_check(ckpt: str, data: Path, chunk_ms: float) -> dict[str, float]:
    """Stream every test clip; exact matches with offline greedy decoding and the RTFs."""
    from seqlstm.data.audio.decode import read_audio
    from seqlstm.data.audio.layouts import read_manifest
    from seqlstm.inference import Predictor

    predictor = Predictor.from_checkpoint(ckpt)
    rate = predictor.task.spec.extra["features"]["sample_rate"]
    chunk = int(rate * chunk_ms / 1000)
    clips = read_manifest(data / "test.csv")
    stream = predictor.audio_stream()
    same = 0
    stream_s = offline_s = audio_s = 0.0
    for clip in clips:
        samples = read_audio(clip.path, rate)
        audio_s += len(samples) / rate
        start = time.perf_counter()
        offline = predictor.transcribe(samples)
        offline_s += time.perf_counter() - start
        start = time.perf_counter()
        for i in range(0, len(samples), chunk):
            stream.push(samples[i : i + chunk])
        final = stream.finish()
        stream_s += time.perf_counter() - start
        same += final == offline
    return {"clips": len(clips), "same": same, "audio_s": audio_s,
            "rtf_stream": stream_s / audio_s, "rtf_offline": offline_s / audio_s}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=Path("bench-speech"))
    parser.add_argument("--only", choices=("kws", "ctc"), default=None)
    parser.add_argument("--chunk-ms", type=float, default=100.0)
    parser.add_argument("--ckpt", default=None)
    parser.add_argument("--snr", type=float, nargs="*", default=[10.0, 0.0],
                        help="also score each run on its test clips with white noise at these "
                        "signal-to-noise ratios (dB)")
    parser.add_argument("--evaluate", nargs="*", default=[], metavar="NAME=CKPT",
                        help="skip training: score these checkpoints (NAME as in the run table) "
                        "at each --snr")
    parser.add_argument("overrides", nargs="*", help="config overrides for every run "
                        "(e.g. trainer.max_epochs=2 for a smoke test)")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    for name in ("lightning.pytorch", "lightning.fabric", "seqlstm"):
        logging.getLogger(name).setLevel(logging.ERROR)
    ckpt = args.ckpt
    trained = dict(item.split("=", 1) for item in args.evaluate)
    if ckpt is None and not trained:
        print(f"{'run':<44} {'best ep':>7} " + " ".join(f"{c[5:]:>8}" for c in COLUMNS)
              + f" {'wall s':>7}")
        for name, experiment, folder, overrides in RUNS:
            if args.only and not name.startswith(args.only):
                continue
            metrics, seconds = train_run(experiment, args.data / folder,
                                         [*overrides, *args.overrides], args.out)
            trained[name] = metrics["ckpt"]
            if name == STREAMING:
                ckpt = metrics["ckpt"]
            cells = " ".join(f"{metrics[c]:8.4f}" if c in metrics else f"{'-':>8}"
                             for c in COLUMNS)
            epoch = Path(metrics["ckpt"]).name[len("epoch"):][:3]  # epochNNN-stepNNNNNN.ckpt
            print(f"{name:<44} {int(epoch) + 1 if epoch.isdigit() else '-':>7} {cells} "
                  f"{seconds:7.0f}", flush=True)
    if args.snr and trained:
        folders = {experiment: folder for _, experiment, folder, _ in RUNS}
        print(f"\n{'run (noisy test clips)':<44} {'SNR dB':>7} "
              + " ".join(f"{c[5:]:>8}" for c in COLUMNS))
        for name, path in trained.items():
            experiment = next(e for n, e, _, _ in RUNS if n == name)
            for snr in args.snr:
                noisy = noisy_copy(args.data / folders[experiment], snr, args.out)
                metrics = evaluate_on(path, noisy)
                cells = " ".join(f"{metrics[c]:8.4f}" if c in metrics else f"{'-':>8}"
                                 for c in COLUMNS)
                print(f"{name:<44} {snr:7g} {cells}", flush=True)
    if ckpt and args.only != "kws":
        result = stream_check(ckpt, args.data / "spoken_digits", args.chunk_ms)
        print(f"\nstreaming ({args.chunk_ms:.0f} ms chunks, 1 thread) with {ckpt}:")
        print(f"  streamed == offline greedy: {result['same']}/{result['clips']} test clips "
              f"({result['audio_s']:.0f} s of audio)")
        ratio = result["rtf_stream"] / result["rtf_offline"]
        print(f"  real-time factor: streaming {result['rtf_stream']:.4f}, offline "
              f"{result['rtf_offline']:.4f} (streaming / offline {ratio:.2f})")


if __name__ == "__main__":
    main()
