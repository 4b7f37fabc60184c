"""Text: seqlstm's text classifier next to TF-IDF + logistic regression on the same splits, and a
word-level LM next to a hand-written ``word_language_model``-style loop at the same budget,
with rows that switch AR/TAR and NT-ASGD on.

Classification corpora: ``docstrings`` (the offline ``python_docstrings`` data: which of 8
standard-library packages a docstring comes from), ``speakers`` (tiny shakespeare: which of its
6 most frequent speakers says a speech; needs ``--shakespeare``), ``languages`` (the language of
a short name: the CLDR names of territories, languages, currencies and scripts in 6 languages,
from the ``babel`` wheel; character tokens, and character n-grams for the baseline), and
``imdb`` / ``ag-news`` when their folders are given. Both systems read the split the data
module makes (seeded, stratified); the baseline picks ``C`` on the validation split, the LSTM
its epoch.

The word LM corpus is tiny shakespeare as words (lowercased, punctuation split off, the
10,000 most frequent training words, the rest ``<unk>``; lines 90/5/5), written in the PTB
layout. Every LM row trains for ``--lm-budget`` seconds of wall time, or for ``--lm-steps``
optimiser steps (step-matched: the result does not depend on the machine's load), then scores
the validation split (one stream, carried state) with its final weights: the loop's after its
last step, seqlstm's from ``last.ckpt`` (written after the fit's last batch), whose step count
the table gives. Both validate after every full epoch inside the budget, as pytorch/examples'
loop does. Each row also gives the CPU seconds its processes used (user + system, training and
scoring).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks import report
from benchmarks.harness import SEQLSTM_ENV
from benchmarks.runners.common import thread_env
from benchmarks.venvs import PEERS, ensure_venv, run_runner

EXPERIMENT = "python_docstrings_lstm"
#: the LM recipe every seqlstm LM row shares: 2 x 200 tied LSTM, SGD lr 20, clip 0.25, bptt 35
#: (forget-gate bias 0: with bias 1 this SGD recipe trains worse, see docs/benchmarks.md)
LM_RECIPE = ["data=word_lm", "data.seq_len=35", "data.batch_size=20", "data.stateful=true",
             "model.embedding_dim=200", "model.encoder.hidden_size=200",
             "model.encoder.num_layers=2", "model.encoder.dropout=0.2",
             "model.encoder.output_dropout=0.2", "model.encoder.forget_bias=0",
             "model.task_options.next_token.tie_weights=true",
             "model.optimizer._target_=torch.optim.SGD", "model.optimizer.lr=20",
             "trainer.gradient_clip_val=0.25", "trainer.max_epochs=1000",
             "callbacks.early_stopping.patience=1000"]
LM_ROWS = {
    "seqlstm": [],
    "seqlstm + AR/TAR (2, 1)": ["model.task_options.next_token.ar=2",
                                "model.task_options.next_token.tar=1"],
    "seqlstm + NT-ASGD (n=2)": ["model.task_options.next_token.nt_asgd=2"],
}


def write_jsonl(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in rows),
                    encoding="utf-8")
    return path


def speakers_corpus(shakespeare: Path, out: Path, top: int = 6) -> Path:
    """Speeches of tiny shakespeare (``NAME:`` then lines, blank line between speeches),
    labelled with the speaker, for its ``top`` most frequent speakers."""
    speeches = []
    for block in shakespeare.read_text(encoding="utf-8").split("\n\n"):
        head, _, body = block.strip().partition(":\n")
        if body.strip() and head.strip() and "\n" not in head and len(head) < 30:
            speeches.append((" ".join(body.split()), head.strip()))
    common = {name for name, _ in Counter(n for _, n in speeches).most_common(top)}
    return write_jsonl(out, [(t, n) for t, n in speeches if n in common])


LOCALES = ("de", "en", "es", "fr", "it", "nl")


def languages_corpus(out: Path, locales: tuple[str, ...] = LOCALES) -> Path:
    """Short texts labelled with their language: every CLDR name of a territory, language,
    currency and script in each of ``locales`` (babel's data); a name that two of them spell
    alike is dropped, so each text has one language."""
    from babel import Locale

    found: dict[str, set[str]] = {}
    for code in locales:
        locale = Locale.parse(code)
        for names in (locale.territories, locale.languages, locale.currencies, locale.scripts):
            for name in names.values():
                found.setdefault(" ".join(name.split()), set()).add(code)
    return write_jsonl(out, sorted((t, next(iter(c))) for t, c in found.items() if len(c) == 1))


def corpora(args: argparse.Namespace, work: Path) -> dict[str, tuple[str, list[str], str]]:
    """name -> (data.path, extra data overrides, the baseline's analyzer) of every corpus this
    run measures (``--corpora``)."""
    from seqlstm.data.text.corpora import python_docstrings

    found = {}
    if "docstrings" in args.corpora:
        found["docstrings"] = (python_docstrings(work / "python_docstrings.jsonl"), [], "word")
    if "speakers" in args.corpora and args.shakespeare and Path(args.shakespeare).is_file():
        found["speakers"] = (str(speakers_corpus(Path(args.shakespeare),
                                                 work / "speakers.jsonl")), [], "word")
    if "languages" in args.corpora and importlib.util.find_spec("babel") is None:
        print("[text] languages: skipped (no babel; pip install babel)", file=sys.stderr)
    elif "languages" in args.corpora:
        found["languages"] = (str(languages_corpus(work / "languages.jsonl")),
                              ["data.tokenizer=char"], "char_wb")
    if args.imdb:
        found["imdb"] = (f"{args.imdb}/train", [f"data.test_path={args.imdb}/test",
                                                "data.labels=[neg,pos]"], "word")
    if args.ag_news:
        found["ag-news"] = (f"{args.ag_news}/train.csv", [
            f"data.test_path={args.ag_news}/test.csv", "data.header=false",
            "data.label_column=0", "data.text_column=[1,2]"], "word")
    return found


def data_kwargs(overrides: list[str]) -> dict:
    """``data.key=value`` overrides as TextClassificationDataModule keyword arguments."""
    out = {}
    for item in overrides:
        key, value = item.removeprefix("data.").split("=", 1)
        if value.startswith("["):
            out[key] = [v.strip() for v in value[1:-1].split(",")]
        else:
            out[key] = {"false": False, "true": True}.get(value, value)
    return out


def run_seqlstm(recipe: list[str], out: Path, threads: int) -> tuple[dict, float]:
    """``seqlstm-train`` in a fresh process; its last logged metrics and wall time."""
    from benchmarks.learning import last_values

    plumbing = [f"hydra.run.dir={out}", "logger=csv", "sample.length=0",
                "~callbacks.rich_progress_bar", "trainer.enable_progress_bar=false"]
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "seqlstm.cli.train", *recipe, *plumbing],
                          capture_output=True, text=True, cwd=report.ROOT,
                          env={**os.environ, **thread_env(threads), **SEQLSTM_ENV})
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"seqlstm-train {' '.join(recipe)} failed:\n{proc.stderr[-3000:]}")
    return last_values(sorted(out.rglob("metrics.csv"))[-1]), seconds


def classification(args: argparse.Namespace, work: Path) -> list[list[object]]:
    from seqlstm.data import TextClassificationDataModule

    python = ensure_venv(PEERS["sklearn"])
    rows = []
    for name, (path, extra, analyzer) in corpora(args, work).items():
        print(f"[text] classification: {name}", file=sys.stderr, flush=True)
        parts = TextClassificationDataModule(path, **data_kwargs(extra)).split_records()
        split = work / f"{name}-split.json"
        split.write_text(json.dumps({k: list(zip(v.texts, v.labels, strict=True))
                                     for k, v in parts.items()}), encoding="utf-8")
        base = run_runner(python, "text_tfidf.py", ["--data", str(split), "--analyzer", analyzer],
                          env=thread_env(args.threads))
        recipe = [f"experiment={EXPERIMENT}", f"data.path={path}", *extra, f"seed={args.seed}"]
        if args.class_budget:
            recipe += [f"++trainer.max_time=00:{clock(args.class_budget)}"]
        metrics, seconds = run_seqlstm(recipe, work / f"run-{name}", args.threads)
        ours = metrics.get("test/acc")
        rows.append([name, len(parts["train"].texts), len(parts["test"].texts),
                     len(set(parts["train"].labels)), base["test_acc"], ours,
                     report.ratio(ours, base["test_acc"]), metrics.get("test/f1_macro"),
                     round(seconds / 60, 1), "`seqlstm-train " + " ".join(recipe) + "`"])
    return rows


WORD = re.compile(r"\w+|[^\w\s]")


def word_corpus(shakespeare: Path, folder: Path, vocab: int = 10000) -> Path:
    """tiny shakespeare as PTB-style word files (see the module docstring)."""
    lines = [" ".join(WORD.findall(line.lower())) for line in
             shakespeare.read_text(encoding="utf-8").splitlines()]
    cut = [round(f * len(lines)) for f in (0.9, 0.95)]
    splits = {"train": lines[: cut[0]], "valid": lines[cut[0] : cut[1]], "test": lines[cut[1]:]}
    keep = {w for w, _ in Counter(" ".join(splits["train"]).split()).most_common(vocab - 2)}
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        text = "\n".join(" ".join(w if w in keep else "<unk>" for w in row.split())
                         for row in rows)
        (folder / f"ptb.{name}.txt").write_text(text + "\n", encoding="utf-8")
    return folder


def word_lm(args: argparse.Namespace, work: Path) -> list[list[object]]:
    import numpy as np

    from seqlstm.data import WordLMDataModule

    folder = word_corpus(Path(args.shakespeare), work / "words")
    dm = WordLMDataModule(str(folder), seq_len=35, batch_size=20)
    dm.setup("fit")
    ids_dir = work / "ids"
    ids_dir.mkdir(exist_ok=True)
    for name in ("train", "val"):
        np.save(ids_dir / f"{name}.npy", np.asarray(dm.ids[name]).astype(np.int64))
    (ids_dir / "meta.json").write_text(json.dumps({"vocab_size": len(dm.tokenizer)}))
    rows = []
    limit = (["--steps", str(args.lm_steps)] if args.lm_steps
             else ["--budget", f"{args.lm_budget:g}"]) + ["--validate-each-epoch"]
    print("[text] word LM: hand-written loop", file=sys.stderr, flush=True)
    start, cpu = time.perf_counter(), children_cpu()
    proc = subprocess.run([sys.executable, str(report.ROOT / "benchmarks" / "runners" /
                                               "wlm_torch.py"), "--data", str(ids_dir), *limit,
                           "--threads", str(args.threads), "--seed", str(args.seed)],
                          capture_output=True, text=True,
                          env={**os.environ, **thread_env(args.threads)})
    if proc.returncode != 0:
        raise RuntimeError(f"wlm_torch.py failed:\n{proc.stderr[-3000:]}")
    torch_result = json.loads(proc.stdout.strip().splitlines()[-1])
    rows.append(["hand-written loop (pytorch/examples style)", torch_result["val_ppl"], 1.0,
                 torch_result["steps"], round(children_cpu() - cpu),
                 round((time.perf_counter() - start) / 60, 1),
                 "`python benchmarks/runners/wlm_torch.py " + " ".join(limit) + "`"])
    stop = (f"++trainer.max_steps={args.lm_steps}" if args.lm_steps
            else f"++trainer.max_time=00:{clock(args.lm_budget)}")
    for label, extra in LM_ROWS.items():
        print(f"[text] word LM: {label}", file=sys.stderr, flush=True)
        recipe = [*LM_RECIPE, f"data.path={folder}", *extra, stop, f"seed={args.seed}",
                  "test=false"]
        out = work / f"lm-{len(rows)}"
        start, cpu = time.perf_counter(), children_cpu()
        run_seqlstm(recipe, out, args.threads)
        ppl = final_val_ppl(out / "checkpoints" / "last.ckpt", args.threads)
        rows.append([label, ppl, report.ratio(ppl, torch_result["val_ppl"]),
                     trained_steps(out / "checkpoints" / "last.ckpt"),
                     round(children_cpu() - cpu),
                     round((time.perf_counter() - start) / 60, 1),
                     "`seqlstm-train " + " ".join([*LM_RECIPE, *extra]) + "`"])
    return rows


def trained_steps(checkpoint: Path) -> int:
    """The optimiser steps behind the weights of ``checkpoint`` (its ``global_step``)."""
    import torch

    return int(torch.load(checkpoint, map_location="cpu", weights_only=True)["global_step"])


def children_cpu() -> float:
    """User + system CPU seconds of this process's finished child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def clock(seconds: float) -> str:
    """``HH:MM:SS`` of ``seconds`` (for ``trainer.max_time``)."""
    return time.strftime("%H:%M:%S", time.gmtime(seconds))


def final_val_ppl(checkpoint: Path, threads: int) -> float:
    """``seqlstm-eval`` of ``checkpoint`` on the validation split."""
    proc = subprocess.run([sys.executable, "-m", "seqlstm.cli.evaluate",
                           f"ckpt_path={checkpoint}", "split=val"], capture_output=True,
                          text=True, cwd=report.ROOT,
                          env={**os.environ, **thread_env(threads), **SEQLSTM_ENV})
    if proc.returncode != 0:
        raise RuntimeError(f"seqlstm-eval failed:\n{proc.stderr[-3000:]}")
    values = dict(line.split("\t") for line in proc.stdout.splitlines() if "\t" in line)
    return math.exp(float(values["val/loss"]))


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks text", description=__doc__)
    p.add_argument("--parts", nargs="+", choices=["classification", "lm"],
                   default=["classification", "lm"])
    p.add_argument("--shakespeare", default=str(report.ROOT.parent / "shared" / "data" /
                                                "tinyshakespeare.txt"))
    p.add_argument("--corpora", nargs="+", choices=["docstrings", "speakers", "languages"],
                   default=["docstrings", "speakers", "languages"])
    p.add_argument("--imdb", help="an aclImdb folder (train/ and test/ with pos/ and neg/)")
    p.add_argument("--ag-news", help="a folder with AG News' train.csv and test.csv")
    p.add_argument("--lm-budget", type=float, default=180.0,
                   help="LM training seconds (wall time)")
    p.add_argument("--lm-steps", type=int, default=None,
                   help="train every LM row this many optimiser steps instead (step-matched)")
    p.add_argument("--class-budget", type=float, default=None,
                   help="cap each seqlstm classifier's training at this many seconds")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--no-write", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str]) -> str:
    args = parse(argv)
    load, started = os.getloadavg(), report.now()
    work = Path(tempfile.mkdtemp(prefix="bench-text-"))
    parts = ["## Text: classification and word-level language models", ""]
    if "classification" in args.parts:
        table = report.markdown_table(
            ["corpus", "train texts", "test texts", "classes", "TF-IDF + LR test acc",
             "seqlstm test acc", "ratio", "seqlstm macro-F1", "seqlstm run (min)", "command"],
            classification(args, work))
        parts += ["Same seeded, stratified split for both; TF-IDF (word 1-2 grams, or for "
                  "`languages` character 1-4 grams within words; sublinear tf) + logistic "
                  "regression picks C in {1, 10, 100} on validation; seqlstm runs the "
                  f"`{EXPERIMENT}` recipe (early stopping on val/loss).", "", table, ""]
    if "lm" in args.parts:
        table = report.markdown_table(
            ["system", "val perplexity", "ratio to hand-written", "optimiser steps",
             "CPU s", "run (min)", "command"], word_lm(args, work))
        limit = (f"{args.lm_steps} optimiser steps each (step-matched)" if args.lm_steps
                 else f"{args.lm_budget:g} s of training each (wall time)")
        parts += [f"Word LM on tiny shakespeare words (PTB layout, 10k vocabulary): 2 x 200 "
                  f"LSTM, tied weights, dropout 0.2, SGD lr 20, clip 0.25, bptt 35, batch 20, "
                  f"{limit}, validation after every full epoch, no learning-rate annealing; "
                  "validation perplexity of the final "
                  "weights over one stream (seqlstm's: its last.ckpt, at the steps given); "
                  "CPU s: user + system seconds of the row's processes (training and "
                  "scoring).", "", table, ""]
    parts += [f"Machine: {report.machine(args.threads, load, started)}.", "",
              f"Command: `{report.command_line()}`"]
    if report.loaded(load):
        parts += ["", "Measured while other processes shared the CPU (see the load average): "
                  + ("step-matched rows compute the same as alone; only their times move."
                     if args.lm_steps and args.parts == ["lm"] else
                     "budgeted rows train fewer steps than they would alone.")]
    section = "\n".join(parts) + "\n"
    if not args.no_write:
        report.write_section("text", section)
    print(section)
    return section
