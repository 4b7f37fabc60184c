"""A text corpus far larger than the ids it needs: streaming encoding speed and peak memory.

Writes a synthetic corpus (``--mb`` MB, ASCII words and newlines) in a temporary folder, then
in separate processes (so each peak RSS is its own):

* ``whole-text``: the pre-streaming path on the first ``--baseline-mb`` MB: read the whole
  text, build the vocabulary from it and encode it in one call (text, code points and ids in
  RAM at once). This is the baseline the ratios compare against.
* ``streamed``: ``CharDataModule.setup`` on the same ``--baseline-mb`` MB, then on the whole
  corpus with ``cache_dir`` (ids written to a ``.npy`` file and memory-mapped).
* ``train``: ``seqlstm-train`` on the whole corpus for a few steps (a cold cache: it encodes
  the corpus itself), reporting the peak RSS of the whole run.

Usage::

    python benchmarks/large_corpus.py --mb 500
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
WORDS = ["the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with",
         "be", "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but",
         "have", "an", "they", "you", "were", "her", "she", "there", "been", "one", "all", "we",
         "their", "has", "would", "when", "if", "so", "no", "will", "more", "other", "its",
         "them", "what", "into", "some", "could", "time", "these", "two", "may", "then", "first",
         "any", "my", "now", "such", "like", "our", "over", "man", "me", "even", "most", "made",
         "after", "also", "did", "many", "before", "must", "through", "back", "years", "where",
         "much", "your", "way", "well", "down", "should", "because", "each", "just", "those",
         "people", "how", "too", "little", "state", "good", "very", "make", "world", "still"]


def write_corpus(path: Path, megabytes: int, non_ascii: bool = False) -> None:
    """``megabytes`` MB of random words in lines of 12: four distinct ~15 MB blocks of text,
    written in turn (generating 500 MB of fresh text would dominate the benchmark's time)."""
    rng = np.random.default_rng(0)
    words = np.array([w + " " for w in WORDS] + ["caf\u00e9 ", "na\u00efve "] * non_ascii)
    blocks = []
    for _ in range(4):
        picks = words[rng.integers(len(words), size=3_000_000)]
        picks[11::12] = np.char.add(picks[11::12], "\n")
        blocks.append("".join(picks.tolist()).encode("utf-8"))
    target, written = megabytes * 2**20, 0
    with open(path, "wb") as out:
        while written < target:
            block = blocks[(written // len(blocks[0])) % len(blocks)][: target - written]
            out.write(block)
            written += len(block)


def child_whole_text(path: str, limit: int) -> dict:
    from seqlstm.spec import Vocabulary

    start, cpu = time.perf_counter(), time.process_time()
    text = Path(path).read_bytes()[:limit].decode("utf-8", errors="ignore")
    vocab = Vocabulary.from_text(text)
    ids = vocab.encode(text, unknown="unk")
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu,
            "bytes": limit, "ids": len(ids)}


def child_streamed(path: str, cache_dir: str | None) -> dict:
    from seqlstm.data.text.char import CharDataModule

    start, cpu = time.perf_counter(), time.process_time()
    data = CharDataModule(path, seq_len=128, cache_dir=cache_dir)
    data.setup("fit")
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu,
            "bytes": os.path.getsize(path), "ids": sum(len(ids) for ids in data.ids.values())}


def child_train(path: str, cache_dir: str, run_dir: str, steps: str) -> dict:
    """``seqlstm-train`` for a few steps, in this process."""
    from seqlstm.cli.scripts import train as train_main

    sys.argv = [
        "seqlstm-train", "data=char", f"data.path={path}", f"data.cache_dir={cache_dir}",
        "model.encoder.hidden_size=64", "trainer.max_epochs=1",
        f"+trainer.limit_train_batches={steps}", "+trainer.limit_val_batches=2", "test=false",
        "logger=[]", "callbacks=none", "trainer.enable_progress_bar=false", "sample.length=0",
        f"hydra.run.dir={run_dir}"]
    start = time.perf_counter()
    train_main()
    return {"seconds": time.perf_counter() - start, "bytes": os.path.getsize(path)}


def run_child(*args: str) -> tuple[dict, float]:
    """Run this script as a child; returns its JSON result and its peak RSS in MB."""
    result = subprocess.run([sys.executable, __file__, "--child", *args], check=True,
                            capture_output=True, text=True, env=_env())
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return report, report.pop("peak_rss_mb")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "OMP_NUM_THREADS": "1"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=500)
    parser.add_argument("--baseline-mb", type=int, default=100)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--child", nargs="*")
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "whole":
            result = child_whole_text(rest[0], int(rest[1]))
        elif kind == "train":
            result = child_train(*rest)
        else:
            result = child_streamed(rest[0], rest[1] if rest[1:] else None)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "big.txt", Path(tmp) / "small.txt"
        write_corpus(big, args.mb)
        with open(big, "rb") as src:
            small.write_bytes(src.read(args.baseline_mb * 2**20))
        mixed = Path(tmp) / "mixed.txt"
        write_corpus(mixed, args.baseline_mb, non_ascii=True)
        rows = []
        base, base_rss = run_child("whole", str(small), str(args.baseline_mb * 2**20))
        rows.append(("whole-text (baseline)", args.baseline_mb, base, base_rss))
        result, rss = run_child("streamed", str(small))
        rows.append(("streamed, in memory", args.baseline_mb, result, rss))
        result, rss = run_child("streamed", str(mixed))
        rows.append(("streamed, non-ASCII text", args.baseline_mb, result, rss))
        result, rss = run_child("streamed", str(big), str(Path(tmp) / "cache-a"))
        rows.append(("streamed, cache_dir", args.mb, result, rss))

        trained, train_rss = run_child("train", str(big), str(Path(tmp) / "cache-b"),
                                       str(Path(tmp) / "run"), str(args.steps))

    print(f"corpus: {args.mb} MB synthetic ASCII text; baseline slice: {args.baseline_mb} MB")
    print("MB/s: corpus megabytes per second of wall time, and per second of this process's "
          "CPU time (the rate on an otherwise idle core)")
    print(f"{'path':<26} {'MB':>5} {'wall s':>7} {'CPU s':>7} {'MB/s':>6} {'MB/s CPU':>8} "
          f"{'x baseline':>10} {'peak RSS MB':>11}")
    base_speed = base["bytes"] / 2**20 / base["cpu"]
    for name, megabytes, result, rss in rows:
        wall, cpu = (result["bytes"] / 2**20 / result[k] for k in ("seconds", "cpu"))
        print(f"{name:<26} {megabytes:>5} {result['seconds']:>7.2f} {result['cpu']:>7.2f} "
              f"{wall:>6.0f} {cpu:>8.0f} {cpu / base_speed:>10.2f} {rss:>11.0f}")
    print(f"{'seqlstm-train, ' + str(args.steps) + ' steps':<26} {args.mb:>5} "
          f"{trained['seconds']:>7.2f} {'':>7} {'':>6} {'':>8} {'':>10} {train_rss:>11.0f}")


if __name__ == "__main__":
    main()
