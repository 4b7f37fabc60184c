"""Character LM training throughput: seqlstm vs a hand-written PyTorch loop vs Keras 3.

Every system trains the same model (embedding 64 -> 2 x 256 LSTM -> linear/softmax head over the
characters, no dropout, Adam 2e-3, gradient norm clipped at 1) on windows of tiny shakespeare,
batch 64 x 128 steps. Each is timed from the end of the warm-up steps to the end of the last
step by a per-batch callback (Keras's ``fit`` wall time is bimodal: see DESIGN.md). The
hardware ceiling divides the LM step's achieved FLOP/s by a large fp32 matmul's, measured in
the same run with the same threads.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

from benchmarks import harness, report
from seqlstm.spec import Vocabulary

NAME = "char-lm"
#: where seqlstm-train's data=tinyshakespeare downloads it, then the shared checkout's copy
TEXT_CANDIDATES = (report.ROOT / "data" / "tinyshakespeare.txt",
                   report.ROOT.parent / "shared" / "data" / "tinyshakespeare.txt")
#: glibc's own environment variables for its thresholds (seqlstm's mallopt set-up left off)
GLIBC_MMAP64 = {"SEQLSTM_ALLOCATOR": None, "MALLOC_MMAP_THRESHOLD_": str(64 << 20),
                "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}
SYSTEMS = {  # label, runner, peer venv, extra environment, process set-up (harness.RUNTIMES)
    "torch": ("hand-written PyTorch loop (reference; glibc malloc, OpenMP defaults)",
              "lm_torch.py", None, {}, "as-written"),
    "torch-tuned": ("hand-written PyTorch loop + seqlstm's process set-up", "lm_torch.py", None,
                    {}, "seqlstm"),
    "seqlstm": ("seqlstm (LanguageModel + Lightning Trainer)", "lm_seqlstm.py", None, {},
                "seqlstm"),
    "torch-tcmalloc": ("hand-written PyTorch loop + tcmalloc preloaded", "lm_torch.py", None,
                       {}, "tcmalloc"),
    "seqlstm-tcmalloc": ("seqlstm + tcmalloc preloaded", "lm_seqlstm.py", None, {},
                         "tcmalloc"),
    # allocator probes (docs/performance.md), run only when --systems names them
    "torch-mmap64": ("hand-written loop + glibc mmap threshold 64 MiB, trim threshold 1 GiB",
                     "lm_torch.py", None, GLIBC_MMAP64, "seqlstm"),
    "torch-mmap64-thp": ("the same + PyTorch's 2 MiB pages (THP_MEM_ALLOC_ENABLE=1)",
                         "lm_torch.py", None, {**GLIBC_MMAP64, "THP_MEM_ALLOC_ENABLE": "1"},
                         "seqlstm"),
    "torch-jemalloc": ("hand-written loop + jemalloc preloaded (no decay)", "lm_torch.py", None,
                       {}, "jemalloc"),
    "keras-tf": ("Keras 3, TensorFlow backend", "lm_keras.py", "keras",
                 {"KERAS_BACKEND": "tensorflow"}, "as-written"),
    "keras-torch": ("Keras 3, torch backend", "lm_keras.py", "keras", {"KERAS_BACKEND": "torch"},
                    "as-written"),
}
#: system -> the least seqlstm's speed over that system's may be (the reference for seqlstm)
TARGETS = {"seqlstm": 1.3, "torch-tuned": 1.0, "keras-tf": 1.3, "keras-torch": 20.0}
#: the runners that also time the fp32 matmul (the ceiling)
CEILING_SYSTEMS = ("torch", "torch-tuned", "torch-tcmalloc")
PROBES = ("torch-mmap64", "torch-mmap64-thp", "torch-jemalloc")


def lstm_train_flops_per_token(vocab: int, embedding: int, hidden: int, layers: int) -> float:
    """Matmul FLOPs of one training token: 3 x forward (backward costs two forwards)."""
    forward = sum(2 * 4 * hidden * ((embedding if i == 0 else hidden) + hidden)
                  for i in range(layers)) + 2 * hidden * vocab
    return 3.0 * forward


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks char-lm", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--text", type=Path, default=next(
        (path for path in TEXT_CANDIDATES if path.is_file()), TEXT_CANDIDATES[0]))
    p.add_argument("--threads", type=int, default=harness.default_threads())
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=20, help="timed steps per run")
    p.add_argument("--keras-torch-steps", type=int, default=2,
                   help="timed steps for Keras on torch (about 15 s a step)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--matmul", type=int, default=2048)
    p.add_argument("--systems", nargs="+", choices=list(SYSTEMS),
                   help="default: every system but the allocator probes whose preloaded "
                   "library is installed")
    p.add_argument("--no-write", action="store_true", help="print the section only")
    p.add_argument("--section", default=NAME, help="the docs/benchmarks.md section written")
    args = p.parse_args(argv)
    missing = {name: harness.missing_preload(name) for name in {s[4] for s in SYSTEMS.values()}}
    if args.systems is None:
        args.systems = [s for s in SYSTEMS if s not in PROBES and missing[SYSTEMS[s][4]] is None]
    for system in args.systems:
        if missing[SYSTEMS[system][4]]:
            p.error(f"--systems {system}: {missing[SYSTEMS[system][4]]}")
    return args


def main(argv: list[str]) -> str:
    args = parse(argv)
    if not args.text.is_file():
        raise SystemExit(f"error: {args.text} is absent; pass --text FILE")
    load, args.started = os.getloadavg(), report.now()
    text = args.text.read_text(encoding="utf-8")
    vocab = Vocabulary.from_text(text)
    tmp = Path(tempfile.mkdtemp(prefix="bench-lm-"))
    ids_path = tmp / "ids.npy"
    np.save(ids_path, vocab.encode(text))
    shape = ["--batch", "64", "--seq-len", "128", "--hidden", "256", "--layers", "2",
             "--embedding", "64", "--warmup", str(args.warmup)]

    def job(system: str):
        _, script, peer, env, runtime = SYSTEMS[system]
        steps = args.keras_torch_steps if system == "keras-torch" else args.steps
        data = ["--text", str(args.text)] if script == "lm_seqlstm.py" else \
            ["--data", str(ids_path), "--vocab", str(len(vocab))]
        extra = ["--matmul", str(args.matmul)] if system in CEILING_SYSTEMS else []
        return lambda: harness.run(script, [*data, *shape, "--steps", str(steps), *extra],
                                   args.threads, peer, env, runtime)

    results = harness.repeat(args.repeats, {s: job(s) for s in args.systems})
    section = render(args, results, vocab_size=len(vocab), load=load, load_end=os.getloadavg())
    if not args.no_write:
        report.write_section(args.section, section)
    print(section)
    return section


def render(args: argparse.Namespace, results: dict[str, list[dict]], vocab_size: int,
           load: tuple[float, float, float], load_end: tuple[float, float, float]) -> str:
    speed = {s: harness.median_of(r, "tokens_per_s") for s, r in results.items()}
    cpu = {s: harness.median_of(r, "tokens_per_cpu_s") for s, r in results.items()}
    reference = speed.get("torch")
    flops = [r["matmul_flops"] for s in CEILING_SYSTEMS for r in results.get(s, [])
             if "matmul_flops" in r]
    ceiling = max(flops) if flops else None  # the best run: load only ever slows a matmul
    per_token = lstm_train_flops_per_token(vocab_size, 64, 256, 2)
    rss_base = harness.median_of(results.get("torch", []), "peak_rss_mb")
    rows = []
    for system, runs in results.items():
        rss = harness.median_of(runs, "peak_rss_mb")
        share = harness.median_of(runs, "sys_share")
        rows.append([SYSTEMS[system][0], speed[system], report.ratio(speed[system], reference),
                     cpu[system], report.ratio(cpu[system], cpu.get("torch")),
                     None if share is None else 100 * share,
                     harness.median_of(runs, "minflt"), rss, report.ratio(rss, rss_base),
                     report.ratio(per_token * speed[system], ceiling) if speed[system] else None,
                     len(runs), runs[0]["steps"], verdict(system, speed)])
    table = report.markdown_table(
        ["system", "tokens/s (median)", "x reference", "tokens/CPU-s", "x reference (CPU)",
         "system CPU %", "minor faults", "peak RSS MiB", "RSS x reference", "x fp32 matmul",
         "runs", "timed steps/run", "target (wall time)"], rows)
    lines = [
        "## Character LM training throughput", "",
        "Same model everywhere: embedding 64 -> 2 x 256 LSTM -> per-step head over "
        f"{vocab_size} characters, no dropout, Adam 2e-3, gradient norm clipped at 1; batch 64 x "
        "128 characters of tiny shakespeare. Each system is timed from the end of its "
        f"{args.warmup} warm-up steps to the end of its last step by a per-batch callback "
        "(for Keras too: `fit`'s own wall time includes a tf.data teardown that can stall "
        "20-40 s). Runs are interleaved; the table gives medians. Tokens/CPU-s divides by the "
        "CPU time of the process's threads over the same steps: it moves much less than wall "
        "time when other processes share the machine. System CPU % (system / (user + system) "
        "CPU time) and minor page faults (`resource.getrusage`) cover the timed steps; peak RSS "
        "the whole process. \"seqlstm's process set-up\" is what every seqlstm console script "
        "does before training (seqlstm/runtime.py: glibc `mallopt` of the mmap and trim "
        "thresholds, `GOMP_SPINCOUNT=1000`); the reference runs as a script does by "
        "default.", "", table,
    ]
    if ceiling:
        lines += [
            "**Hardware ceiling.** The LM training step does "
            f"{per_token / 1e6:.2f} MFLOP per token (matmuls; backward counted as two "
            f"forwards); a {args.matmul} x {args.matmul} fp32 matmul in the same runs reaches "
            f"{ceiling / 1e9:.1f} GFLOP/s (the best of the hand-written processes' best-of-10): "
            "the x fp32 matmul column is each system's achieved FLOP/s over it.", ""]
    versions = sorted({f"{k} {v}" for runs in results.values() for r in runs[:1]
                       for k, v in r.items() if k in ("torch", "lightning", "keras")}
                      | {f"Keras backend {r['backend_version']}" for runs in results.values()
                         for r in runs[:1] if "backend_version" in r})
    lines += [f"Machine: {report.machine(args.threads, load, args.started)}; load average at "
              f"the end {load_end[0]:.2f}.", f"Versions: {', '.join(versions)}.", "",
              f"Command: `{report.command_line()}`"]
    if report.loaded(load):  # the end load counts the benchmark's own processes
        lines += ["", "Measured while other processes shared the CPU (see the load averages): "
                  "absolute numbers are low and noisy, the ratios hold better."]
    return "\n".join(lines) + "\n"


def verdict(system: str, speed: dict[str, float | None]) -> str:
    """Whether seqlstm's speed over ``system``'s (the reference's, for seqlstm) meets its
    target, in wall time."""
    target = TARGETS.get(system)
    other = "torch" if system == "seqlstm" else system
    value = report.ratio(speed.get("seqlstm"), speed.get(other))
    if target is None or value is None:
        return "-"
    name = "reference" if system == "seqlstm" else "this"
    return f"seqlstm / {name} = {value:.2f}: {'met' if value >= target else 'MISSED'} " \
           f"(>= {target:g})"
