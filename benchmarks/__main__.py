"""``python -m benchmarks [NAME [OPTIONS]]``: list the benchmarks, or run one.

``python -m benchmarks setup [PEER ...]`` creates the peers' virtual environments ahead of time
(every benchmark creates the ones it needs on first use).
"""

from __future__ import annotations

import importlib
import sys

from benchmarks import venvs
from seqlstm import runtime

#: name -> (module with ``main(argv)``, one-line summary)
BENCHMARKS = {
    "char-lm": ("benchmarks.char_lm",
                "char LM tokens/s: seqlstm vs hand-written PyTorch vs Keras 3 (TF and torch); "
                "hardware ceiling"),
    "forecast": ("benchmarks.forecast",
                 "forecasting end to end: seqlstm vs hand-written, bare Lightning, darts, "
                 "pytorch-forecasting, neuralforecast"),
    "forecast-backtest": ("benchmarks.forecast_backtest",
                          "20-fold backtest on CO2: seqlstm (batched origins) vs darts "
                          "historical_forecasts"),
    "forecast-crps": ("benchmarks.forecast_crps",
                      "probabilistic forecasting: CRPS of seqlstm's distribution heads vs darts, "
                      "DeepAR and neuralforecast with likelihoods"),
    "forecast-scale": ("benchmarks.forecast_scale",
                       "forecasting at 1k-100k series: file to first training step and peak RSS, "
                       "seqlstm vs neuralforecast"),
    "generation": ("benchmarks.generation_speed",
                   "generation chars/s: carried state vs re-reading a window per character "
                   "(torch, and the Keras example with --keras)"),
    "speech": ("benchmarks.speech",
               "speech recipes (keyword spotting, CTC) with and without augmentation; "
               "streaming transcription == offline and its real-time factor"),
    "progress-load": ("benchmarks.progress_load",
                      "seqlstm-train in a pseudo-terminal with the progress bar live, alone and "
                      "under a competing busy process (OpenMP wait policy, bar refresh)"),
    "step-overhead": ("benchmarks.step_overhead",
                      "ms per forecasting step: the Lightning set-up of seqlstm-train vs the "
                      "bare model over the same DataLoader"),
    "gpu": ("benchmarks.gpu",
            "every check that needs a GPU (fused vs per-layer, precisions, packed on CUDA, "
            "latency, vs the hand-written loop); --dry-run runs it tiny on CPU"),
    "fuzz": ("benchmarks.fuzz",
             "property-based fuzzing counts: cases read and refused by name per reader and "
             "config group (Hypothesis long profile)"),
    "learning": ("benchmarks.learning",
                 "learning results against published tables (adding, temporal order, copy, "
                 "tiny shakespeare, JapaneseVowels, MASE)"),
    "small-data": ("benchmarks.small_data",
                   "small UEA/UCR classification sets (BasicMotions...) with the defaults: "
                   "test accuracy over seeds, optimiser steps trained"),
    "text": ("benchmarks.text",
             "text classification vs TF-IDF + logistic regression; word LM vs a hand-written "
             "loop, with AR/TAR and NT-ASGD"),
}


#: benchmarks that train in this process: they get seqlstm's process set-up, as a console
#: script would (the others set up each runner process themselves)
IN_PROCESS = ("step-overhead", "gpu")


def usage() -> str:
    width = max(map(len, BENCHMARKS))
    lines = ["usage: python -m benchmarks NAME [OPTIONS]   (NAME --help for its options)", "",
             "benchmarks:"]
    lines += [f"  {name:<{width}}  {summary}" for name, (_, summary) in BENCHMARKS.items()]
    lines += [f"  {'all':<{width}}  every benchmark above, with default options",
              f"  {'setup':<{width}}  create the peers' venvs: setup [{' '.join(venvs.PEERS)}]"]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "list"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name == "setup":
        unknown = sorted(set(rest) - set(venvs.PEERS))
        if unknown:
            print(f"error: unknown peer(s) {unknown}; choose from {list(venvs.PEERS)}",
                  file=sys.stderr)
            return 2
        venvs.main(rest)
        return 0
    names = list(BENCHMARKS) if name == "all" else [name]
    for each in names:
        if each not in BENCHMARKS:
            print(f"error: no benchmark named {each!r}\n\n{usage()}", file=sys.stderr)
            return 2
        if each in IN_PROCESS:
            runtime.prepare_process()  # before the benchmark imports torch
        importlib.import_module(BENCHMARKS[each][0]).main(rest if name != "all" else [])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
