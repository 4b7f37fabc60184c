"""The text benchmark's corpora: speaker attribution, language names and PTB-style word
files."""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest

from benchmarks.text import data_kwargs, languages_corpus, speakers_corpus, word_corpus

PLAY = ("ROMEO:\nBut soft, what light.\n\nJULIET:\nAy me.\nO Romeo.\n\nROMEO:\nShe speaks.\n\n"
        "NURSE:\nAnon!\n")


def test_speakers_keep_the_most_frequent(tmp_path):
    (tmp_path / "play.txt").write_text(PLAY)
    path = speakers_corpus(tmp_path / "play.txt", tmp_path / "s.jsonl", top=2)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["label"] for r in rows] == ["ROMEO", "JULIET", "ROMEO"]
    assert rows[1]["text"] == "Ay me. O Romeo."


def test_word_corpus_is_ptb_style(tmp_path):
    (tmp_path / "play.txt").write_text("\n".join(["The cat, the dog."] * 18 + ["A zebra!"] * 2))
    folder = word_corpus(tmp_path / "play.txt", tmp_path / "words", vocab=7)
    assert (folder / "ptb.train.txt").read_text().splitlines()[0] == "the cat , the dog ."
    assert (folder / "ptb.test.txt").read_text().split() == ["<unk>", "<unk>", "<unk>"]


def test_data_overrides_become_keyword_arguments():
    assert data_kwargs(["data.header=false", "data.text_column=[1,2]", "data.labels=[neg, pos]"]
                       ) == {"header": False, "text_column": ["1", "2"], "labels": ["neg", "pos"]}


def test_language_names_have_one_language_each(tmp_path):
    pytest.importorskip("babel", reason="the languages corpus reads babel's CLDR data")
    rows = [json.loads(line) for line in
            languages_corpus(tmp_path / "l.jsonl", ("de", "fr")).read_text().splitlines()]
    texts = [r["text"] for r in rows]
    assert len(texts) == len(set(texts)) > 1000  # no name twice, under any label
    assert {"Deutschland", "Allemagne"} <= set(texts)
    assert {r["label"] for r in rows if r["text"] in ("Deutschland", "Allemagne")} == {"de", "fr"}
    assert "Paraguay" not in texts  # spelled alike in German and French: dropped
    assert min(Counter(r["label"] for r in rows).values()) > 500


@pytest.mark.slow  # a subprocess that imports torch: a few seconds
def test_the_word_lm_runner_trains_a_number_of_steps(tmp_path):
    import subprocess
    import sys

    import numpy as np

    from tests.conftest import REPO_ROOT

    rng = np.random.default_rng(0)
    for name in ("train", "val"):
        np.save(tmp_path / f"{name}.npy", rng.integers(0, 30, 700).astype(np.int64))
    (tmp_path / "meta.json").write_text(json.dumps({"vocab_size": 30}))
    runner = REPO_ROOT / "benchmarks" / "runners" / "wlm_torch.py"
    out = subprocess.run([sys.executable, str(runner), "--data", str(tmp_path), "--steps", "7",
                          "--size", "8", "--bptt", "5", "--batch", "4", "--threads", "1",
                          "--lstm-init", "seqlstm", "--forget-bias", "0"],
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # 700 tokens in 4 streams of 175, 35 batches of 5 steps per epoch: 7 steps, one epoch
    assert result["steps"] == 7 and result["epochs"] == 1
    assert result["val_ppl"] == pytest.approx(math.exp(result["val_loss"]))
    assert result["cpu_seconds"] > 0
