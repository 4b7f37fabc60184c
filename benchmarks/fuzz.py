"""Fuzzing counts: every reader and config check of tests/test_fuzz.py under a Hypothesis
profile (``long`` by default, ``ci`` is what the test suite runs), with the cases generated,
read, refused by name and failed per target, and the time each took.

    python -m benchmarks fuzz [--profile long|ci]
"""

from __future__ import annotations

import argparse
import os
import time

from hypothesis import settings


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks fuzz")
    parser.add_argument("--profile", default="long", choices=["ci", "long"])
    args = parser.parse_args(argv)

    os.environ["SEQLSTM_FUZZ_PROFILE"] = args.profile  # test_fuzz loads it on import
    from tests import test_fuzz
    from tests.helpers import fuzzing

    settings.load_profile(args.profile)
    config = test_fuzz.train_config.__wrapped__()
    targets = {name: getattr(test_fuzz, name) for name in dir(test_fuzz)
               if name.startswith("test_")}
    rows, started = [], time.perf_counter()
    for name, test in targets.items():
        before = dict(fuzzing.COUNTS)
        began, failure = time.perf_counter(), ""
        try:
            test(config) if name == "test_config_value" else test()
        except Exception as err:  # a falsified property: reported, not raised
            first = (str(err).strip().splitlines() or [""])[0]
            failure = f"{type(err).__name__}: {first[:60]}"
        seconds = time.perf_counter() - began
        done = {key: count - before.get(key, 0) for key, count in fuzzing.COUNTS.items()
                if count - before.get(key, 0)}
        for kind in sorted({kind for kind, _ in done}):
            read, refused = done.get((kind, "read"), 0), done.get((kind, "refused"), 0)
            rows.append((kind, read + refused, read, refused, seconds, failure or "0"))
            seconds = 0.0
    print(f"profile {args.profile}: {settings.get_profile(args.profile).max_examples} "
          f"examples per test, deadline 5 s per case")
    print(f"{'target':<18} {'cases':>6} {'read':>6} {'refused':>8} {'seconds':>8}  failures")
    for kind, cases, read, refused, seconds, failure in rows:
        shown = f"{seconds:8.1f}" if seconds else f"{'':8}"
        print(f"{kind:<18} {cases:>6} {read:>6} {refused:>8} {shown}  {failure}")
    total = sum(row[1] for row in rows)
    print(f"{'total':<18} {total:>6} {'':>6} {'':>8} {time.perf_counter() - started:8.1f}")
