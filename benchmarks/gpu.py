"""Every check that only a GPU can make, in one command (under 8 minutes on one GPU).

1. cuDNN: the fused encoder (one multi-layer call) vs layer by layer, training tokens/s of the
   char-LM shape (embedding 64 -> 2 x 256 LSTM, batch 64 x 128).
2. Precisions: ``32-true``, ``bf16-mixed`` and ``16-mixed`` each train seqlstm's language model
   for 200 steps from the same seed and batches through the Lightning Trainer; every loss must be
   finite and each 20-step mean within ``--tolerance`` nats of the fp32 run's.
3. Packed == padded on CUDA: a bidirectional LSTM over a variable-length batch with ``lengths``
   (packed) gives, at every valid step, what each sequence gives run alone without padding.
4. ``Predictor`` latency on the GPU: next-character probabilities of a 64-character prompt.
5. seqlstm vs the hand-written loop on the same GPU: the char-LM and forecasting runners of
   ``python -m benchmarks char-lm`` and ``forecast`` with ``--device cuda``.
6. Speech features on the GPU: the normalised log-mel frames of a padded batch of waveforms
   (what ``data.features_on=device`` makes after the transfer) on the GPU and on the CPU: the
   same numbers, and the milliseconds per batch on each (computing only, not the transfer).

Writes one JSON (``--json``) and the ``gpu`` section of docs/benchmarks.md. ``--dry-run`` runs
the same code on the CPU with tiny shapes in about a minute (16-mixed is skipped there: fp16
mixed precision needs CUDA), so that the script is known to start before a GPU is lent.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from benchmarks import harness, report
from benchmarks.venvs import ROOT

NAME = "gpu"
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed")
DEFAULT_JSON = ROOT / "docs" / "gpu-results.json"


@dataclass(frozen=True)
class Shape:
    """Sizes of one run: the real ones, or tiny ones for ``--dry-run``."""

    hidden: int
    batch: int
    seq_len: int
    timed_steps: int
    precision_steps: int
    corpus_bytes: int
    forecast_series: int
    forecast_length: int
    window: int
    audio_batch: int
    audio_seconds: float


FULL = Shape(hidden=256, batch=64, seq_len=128, timed_steps=50, precision_steps=200,
             corpus_bytes=2_000_000, forecast_series=50, forecast_length=2000, window=20,
             audio_batch=32, audio_seconds=4.0)
TINY = Shape(hidden=16, batch=4, seq_len=16, timed_steps=3, precision_steps=6,
             corpus_bytes=60_000, forecast_series=3, forecast_length=300, window=3,
             audio_batch=4, audio_seconds=0.5)


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks gpu", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dry-run", action="store_true", help="tiny shapes on the CPU")
    p.add_argument("--tolerance", type=float, default=0.1,
                   help="largest gap between a 20-step mean loss and fp32's, in nats")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where the results go")
    p.add_argument("--no-write", action="store_true", help="no docs section (JSON still)")
    return p.parse_args(argv)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# -- 1. fused vs per-layer -----------------------------------------------------------------
class TinyLM(nn.Module):
    """Embedding -> seqlstm's RecurrentEncoder -> linear head."""

    def __init__(self, vocab: int, hidden: int) -> None:
        from seqlstm.nn import EncoderConfig, RecurrentEncoder

        super().__init__()
        self.embedding = nn.Embedding(vocab, 64)
        self.encoder = RecurrentEncoder(64, EncoderConfig(hidden_size=hidden, num_layers=2))
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embedding(ids))[0])  # (B, T) -> (B, T, V)


def train_tokens_per_s(model: nn.Module, ids: torch.Tensor, steps: int,
                       device: torch.device) -> float:
    """Training tokens/s over ``steps`` steps after two warm-up steps."""
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    start = 0.0
    for step in range(steps + 2):
        if step == 2:
            synchronize(device)
            start = time.perf_counter()
        logits = model(ids[:, :-1])
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    synchronize(device)
    return steps * ids[:, :-1].numel() / (time.perf_counter() - start)


def check_fused(shape: Shape, device: torch.device) -> dict[str, Any]:
    torch.manual_seed(0)
    fused = TinyLM(66, shape.hidden).to(device)
    layered = copy.deepcopy(fused)
    layered.encoder.__dict__["fused"] = None
    ids = torch.randint(0, 66, (shape.batch, shape.seq_len + 1), device=device)
    with torch.no_grad():
        gap = (fused(ids) - layered(ids)).abs().max().item()
    speeds = {name: train_tokens_per_s(model, ids, shape.timed_steps, device)
              for name, model in (("fused", fused), ("per_layer", layered))}
    return {**{f"{k}_tokens_per_s": v for k, v in speeds.items()},
            "fused_over_per_layer": speeds["fused"] / speeds["per_layer"],
            "max_output_gap": gap}


# -- 2. precisions ---------------------------------------------------------------------------
def compose_lm(shape: Shape, device: torch.device, out: Path, *extra: str):
    from benchmarks.runners.seqlstm_run import compose_run

    overrides = ["model=stacked_lstm", f"data.path.max_bytes={shape.corpus_bytes}",
                 f"data.batch_size={shape.batch}", f"data.seq_len={shape.seq_len}",
                 f"model.encoder.hidden_size={shape.hidden}", "model.encoder.dropout=0",
                 "model.encoder.output_dropout=0", "callbacks=none",
                 "trainer.enable_progress_bar=false", "+trainer.enable_model_summary=false",
                 "+trainer.limit_val_batches=0", "logger=csv", "seed=0",
                 *(["trainer=gpu"] if device.type == "cuda" else []), *extra]
    return compose_run(overrides, out)


def train_losses(shape: Shape, device: torch.device, precision: str, out: Path):
    """seqlstm's language model fitted ``precision_steps`` steps; its per-step losses."""
    import lightning as L

    from seqlstm.cli.builders import build_datamodule, build_loggers, build_trainer, data_record
    from seqlstm.configs import plain
    from seqlstm.tasks import build_task

    class Losses(L.Callback):
        def __init__(self) -> None:
            self.values: list[float] = []

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            self.values.append(float(outputs["loss"]))

    cfg = compose_lm(shape, device, out, f"trainer/precision={precision}",
                     f"+trainer.max_steps={shape.precision_steps}")
    datamodule = build_datamodule(cfg.data)
    datamodule.setup("fit")
    model = build_task(plain(cfg.model), datamodule.spec, data_record(datamodule))
    losses = Losses()
    trainer = build_trainer(cfg, [losses], build_loggers(cfg.get("logger")))
    trainer.fit(model, datamodule=datamodule)
    return losses.values, model


def window_means(values: list[float], window: int) -> list[float]:
    return [statistics.fmean(values[i : i + window]) for i in range(0, len(values), window)]


def check_precisions(shape: Shape, device: torch.device, tolerance: float,
                     out: Path) -> tuple[dict[str, Any], nn.Module | None]:
    results: dict[str, Any] = {"tolerance_nats": tolerance, "steps": shape.precision_steps}
    curves: dict[str, list[float]] = {}
    fp32_model = None
    for precision in PRECISIONS:
        if precision == "16-mixed" and device.type != "cuda":
            results[precision] = {"skipped": "fp16 mixed precision needs CUDA"}
            continue
        start = time.perf_counter()
        losses, model = train_losses(shape, device, precision, out / precision)
        curves[precision] = losses
        fp32_model = fp32_model or model
        finite = all(math.isfinite(v) for v in losses)
        entry: dict[str, Any] = {"steps": len(losses), "all_finite": finite,
                                 "first_loss": losses[0], "last_loss": losses[-1],
                                 "seconds": time.perf_counter() - start}
        if precision != "32-true":
            gaps = [abs(a - b) for a, b in zip(window_means(losses, shape.window),
                                               window_means(curves["32-true"], shape.window),
                                               strict=True)]
            entry.update(max_window_gap=max(gaps),
                         passed=finite and max(gaps) <= tolerance)
        else:
            entry["passed"] = finite
        results[precision] = entry
    return results, fp32_model


# -- 3. packed == padded ---------------------------------------------------------------------
def check_packed(shape: Shape, device: torch.device) -> dict[str, Any]:
    from seqlstm.nn import EncoderConfig, RecurrentEncoder

    torch.manual_seed(0)
    encoder = RecurrentEncoder(8, EncoderConfig(hidden_size=shape.hidden, num_layers=2,
                                                bidirectional=True)).to(device).eval()
    lengths = torch.randint(1, shape.seq_len + 1, (shape.batch,))
    lengths[0] = shape.seq_len
    x = torch.randn(shape.batch, shape.seq_len, 8, device=device)
    with torch.no_grad():
        packed, _ = encoder(x, lengths=lengths)  # (B, T, 2H), zeros past each length
        gap = max((packed[i, :n] - encoder(x[i : i + 1, :n])[0][0]).abs().max().item()
                  for i, n in enumerate(lengths.tolist()))
        tail = max((packed[i, n:].abs().max().item() if n < shape.seq_len else 0.0)
                   for i, n in enumerate(lengths.tolist()))
    tolerance = 1e-4  # cuDNN may sum in another order (and in TF32 where allowed)
    return {"max_gap_at_valid_steps": gap, "max_value_past_lengths": tail,
            "tolerance": tolerance, "passed": gap <= tolerance and tail == 0.0}


# -- 4. Predictor latency --------------------------------------------------------------------
def check_latency(model: nn.Module | None, device: torch.device) -> dict[str, Any]:
    from seqlstm.inference import Predictor

    if model is None:
        return {"skipped": "no trained language model (the precision check failed)"}
    predictor = Predictor(model, device)
    prompt = "def main(argv):\n    return 0\n" * 2
    prompt = prompt[:64]
    times = []
    for _ in range(55):
        start = time.perf_counter()
        predictor.next_token_probs(prompt)
        synchronize(device)
        times.append(time.perf_counter() - start)
    return {"prompt_chars": len(prompt), "median_ms": 1000 * statistics.median(times[5:])}


# -- 5. vs the hand-written loop -------------------------------------------------------------
def check_versus(shape: Shape, device: torch.device, out: Path) -> dict[str, Any]:
    """The char-LM and forecasting runners on ``device``, seqlstm and the hand-written loop."""
    import numpy as np

    from benchmarks.forecast import build_data
    from seqlstm.data.text.corpora import python_stdlib_files
    from seqlstm.spec import Vocabulary

    threads, dev = harness.default_threads(), ["--device", str(device)]
    text = "".join(Path(f).read_text(encoding="utf-8", errors="replace")
                   for f in python_stdlib_files(shape.corpus_bytes))
    text_path = out / "corpus.txt"
    text_path.write_text(text, encoding="utf-8")
    vocab = Vocabulary.from_text(text)
    np.save(out / "ids.npy", vocab.encode(text))
    lm = ["--batch", str(shape.batch), "--seq-len", str(shape.seq_len), "--hidden",
          str(shape.hidden), "--steps", str(shape.timed_steps), *dev]
    torch_lm = harness.run("lm_torch.py", ["--data", str(out / "ids.npy"), "--vocab",
                                           str(len(vocab)), *lm], threads)
    seqlstm_lm = harness.run("lm_seqlstm.py", ["--text", str(text_path), *lm], threads)
    scaled = build_data(shape.forecast_series, shape.forecast_length, seed=0)
    scaled.data.save(str(out / "fc.npz"))
    fc = ["--data", str(out / "fc.npz"), "--epochs", "1", *dev]
    rates = {}
    for name, script in (("torch", "fc_torch.py"), ("seqlstm", "fc_seqlstm.py")):
        result = harness.run(script, [*fc, "--out", str(out / f"{name}.npy")], threads)
        rates[name] = result["train_windows"] / result["fit_s"]
    return {"char_lm": {"torch_tokens_per_s": torch_lm["tokens_per_s"],
                        "seqlstm_tokens_per_s": seqlstm_lm["tokens_per_s"],
                        "seqlstm_over_torch": seqlstm_lm["tokens_per_s"]
                        / torch_lm["tokens_per_s"]},
            "forecast": {"torch_windows_per_s": rates["torch"],
                         "seqlstm_windows_per_s": rates["seqlstm"],
                         "seqlstm_over_torch": rates["seqlstm"] / rates["torch"]}}


# -- 6. speech features ------------------------------------------------------------------------
def check_speech_features(shape: Shape, device: torch.device) -> dict[str, Any]:
    from seqlstm.data.audio.features import FeatureConfig, NormalisedFeatures

    config = FeatureConfig()  # 40 log-mels, 25 ms windows every 10 ms, 16 kHz
    torch.manual_seed(0)
    waves = 0.1 * torch.randn(shape.audio_batch, int(shape.audio_seconds * config.sample_rate))
    samples = torch.randint(waves.size(1) // 2, waves.size(1) + 1, (shape.audio_batch,))
    samples[0] = waves.size(1)
    waves *= torch.arange(waves.size(1)) < samples[:, None]  # padded with zeros
    mean, std = torch.zeros(config.size), torch.ones(config.size)
    made, times = {}, {}
    for name, where in (("cpu", torch.device("cpu")), ("device", device)):
        features = NormalisedFeatures(config, mean, std).to(where)
        batch, lengths = waves.to(where), samples.to(where)
        took = []
        for _ in range(shape.timed_steps + 2):
            synchronize(where)
            start = time.perf_counter()
            frames, _ = features(batch, lengths)
            synchronize(where)
            took.append(time.perf_counter() - start)
        made[name], times[name] = frames.cpu(), 1000 * statistics.median(took[2:])
    gap = (made["cpu"] - made["device"]).abs().max().item()
    tolerance = 1e-2  # dB: cuFFT and the CPU's FFT round differently
    return {"batch": shape.audio_batch, "seconds_per_clip": shape.audio_seconds,
            "cpu_ms": times["cpu"], "device_ms": times["device"],
            "cpu_over_device": times["cpu"] / times["device"], "max_gap_db": gap,
            "tolerance_db": tolerance, "passed": gap <= tolerance}


# -- driver ----------------------------------------------------------------------------------
def shown(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def guarded(results: dict[str, Any], name: str, check: Callable[[], Any]) -> Any:
    """Run one check; a failure is recorded (with its last traceback line) and the rest go on."""
    start = time.perf_counter()
    try:
        value = check()
    except Exception as err:  # one failed check must not lose the others
        traceback.print_exc()
        results[name] = {"error": f"{type(err).__name__}: {str(err).strip()[:300]}"}
        return None
    entry = value[0] if isinstance(value, tuple) else value
    results[name] = {**entry, "check_seconds": time.perf_counter() - start}
    print(f"  {name}: {results[name]}", file=sys.stderr, flush=True)
    return value


def main(argv: list[str]) -> dict[str, Any]:
    args = parse(argv)
    if not args.dry_run and not torch.cuda.is_available():
        raise SystemExit("error: no CUDA device here; `python -m benchmarks gpu --dry-run` runs "
                         "the same checks tiny on the CPU")
    device = torch.device("cpu" if args.dry_run else "cuda")
    shape = TINY if args.dry_run else FULL
    out = Path(tempfile.mkdtemp(prefix="bench-gpu-"))
    started, load = report.now(), os.getloadavg()
    results: dict[str, Any] = {
        "dry_run": args.dry_run, "device": (torch.cuda.get_device_name(0)
                                            if device.type == "cuda" else "cpu"),
        "torch": torch.__version__, "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
        "started": started.isoformat(timespec="seconds")}
    wall = time.perf_counter()
    guarded(results, "fused_vs_per_layer", lambda: check_fused(shape, device))
    value = guarded(results, "precisions",
                    lambda: check_precisions(shape, device, args.tolerance, out))
    guarded(results, "packed_vs_padded", lambda: check_packed(shape, device))
    guarded(results, "predictor_latency",
            lambda: check_latency(value[1] if value else None, device))
    guarded(results, "versus_hand_written", lambda: check_versus(shape, device, out))
    guarded(results, "speech_features", lambda: check_speech_features(shape, device))
    results["total_seconds"] = time.perf_counter() - wall
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    section = render(results, load, args.json)
    if not args.no_write and not args.dry_run:
        report.write_section(NAME, section)
    print(section)
    return results


def render(results: dict[str, Any], load: tuple[float, float, float], json_path: Path) -> str:
    def cell(name: str, key: str) -> Any:
        return results.get(name, {}).get(key)

    rows = [["cuDNN fused / per-layer tokens/s", cell("fused_vs_per_layer",
                                                       "fused_over_per_layer"), "-"]]
    for precision in PRECISIONS:
        entry = results.get("precisions", {}).get(precision, {})
        verdict = entry.get("skipped") or ("passed" if entry.get("passed") else "FAILED")
        gap = report.fmt(entry.get("max_window_gap"))
        rows.append([f"{precision}: last loss (max 20-step gap to fp32)",
                     entry.get("last_loss"), f"{verdict} (gap {gap})"])
    packed = results.get("packed_vs_padded", {})
    rows.append(["packed vs each sequence alone: max gap", packed.get("max_gap_at_valid_steps"),
                 "passed" if packed.get("passed") else "FAILED"])
    rows.append(["Predictor next-char latency ms", cell("predictor_latency", "median_ms"), "-"])
    versus = results.get("versus_hand_written", {})
    rows.append(["char LM: seqlstm / hand-written", versus.get("char_lm", {}).get(
        "seqlstm_over_torch"), "-"])
    rows.append(["forecast: seqlstm / hand-written", versus.get("forecast", {}).get(
        "seqlstm_over_torch"), "-"])
    speech = results.get("speech_features", {})
    rows.append([f"speech log-mels, {speech.get('batch')} x {speech.get('seconds_per_clip')} s: "
                 "CPU ms / GPU ms", speech.get("cpu_over_device"),
                 f"{'passed' if speech.get('passed') else 'FAILED'} (gap "
                 f"{report.fmt(speech.get('max_gap_db'))} dB)"])
    errors = [f"- {name}: {entry['error']}" for name, entry in results.items()
              if isinstance(entry, dict) and "error" in entry]
    lines = ["## GPU checks", "",
             f"Device {results['device']}, torch {results['torch']}, CUDA {results['cuda']}, "
             f"cuDNN {results['cudnn']}; {results['total_seconds']:.0f} s in all. Full results: "
             f"{shown(json_path)}.", "",
             report.markdown_table(["check", "value", "verdict"], rows), *errors, "",
             f"Load average at start {load[0]:.2f}. Command: `{report.command_line()}`"]
    return "\n".join(lines) + "\n"
