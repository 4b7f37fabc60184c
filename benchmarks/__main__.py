"""``python -m benchmarks [NAME [OPTIONS]]``: list the benchmarks, or run one.

``python -m benchmarks setup [PEER ...]`` creates the peers' virtual environments ahead of time
(every benchmark creates the ones it needs on first use).
"""

from __future__ import annotations

import importlib
import sys

from benchmarks import venvs

#: name -> (module with ``main(argv)``, one-line summary)
BENCHMARKS = {
    "char-lm": ("benchmarks.char_lm",
                "char LM tokens/s: seqlstm vs hand-written PyTorch vs Keras 3 (TF and torch); "
                "hardware ceiling"),
    "forecast": ("benchmarks.forecast",
                 "forecasting end to end: seqlstm vs hand-written, bare Lightning, darts, "
                 "pytorch-forecasting, neuralforecast"),
    "generation": ("benchmarks.generation_speed",
                   "generation chars/s: carried state vs re-reading a window per character "
                   "(torch, and the Keras example with --keras)"),
    "fuzz": ("benchmarks.fuzz",
             "property-based fuzzing counts: cases read and refused by name per reader and "
             "config group (Hypothesis long profile)"),
    "learning": ("benchmarks.learning",
                 "learning results against published tables (adding, temporal order, copy, "
                 "tiny shakespeare, JapaneseVowels, MASE)"),
}


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
        importlib.import_module(BENCHMARKS[each][0]).main(rest if name != "all" else [])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
