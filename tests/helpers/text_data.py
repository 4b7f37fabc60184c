"""Small labelled text files the text tests write (reviews, news, CoNLL, word-LM splits)."""

from __future__ import annotations

import json
from pathlib import Path

GOOD = ["a great film with fine acting", "i loved this wonderful story", "superb and moving",
        "a joy to watch , great cast", "brilliant , funny and warm", "fine music and a great end"]
BAD = ["a dull film with poor acting", "i hated this boring story", "awful and slow",
       "a waste of time , bad cast", "terrible , flat and cold", "poor music and a bad end"]


def reviews(count: int = 48) -> list[tuple[str, str]]:
    """``count`` (text, label) pairs, alternating pos/neg, cycling through the phrases."""
    rows = []
    for i in range(count):
        good = i % 2 == 0
        phrases = GOOD if good else BAD
        rows.append((f"{phrases[(i // 2) % len(phrases)]} number {i}", "pos" if good else "neg"))
    return rows


def write_reviews(path: Path, count: int = 48, fmt: str = "csv") -> Path:
    """The reviews as a table (``csv``, ``tsv`` or ``jsonl``) with ``text`` and ``label``."""
    rows = reviews(count)
    if fmt == "jsonl":
        path.write_text("".join(json.dumps({"text": t, "label": lab}) + "\n"
                                for t, lab in rows), encoding="utf-8")
        return path
    sep = "\t" if fmt == "tsv" else ","
    lines = [f"text{sep}label"] + [f'"{t}"{sep}{lab}' if sep == "," else f"{t}{sep}{lab}"
                                   for t, lab in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_imdb_layout(root: Path, per_label: int = 8) -> Path:
    """A tiny aclImdb: ``train`` and ``test`` each with ``pos``/``neg`` (and ``unsup`` in
    train) folders of ``<id>_<rating>.txt`` files."""
    for split in ("train", "test"):
        for label, phrases in (("pos", GOOD), ("neg", BAD)):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(per_label):
                (folder / f"{i}_{8 if label == 'pos' else 2}.txt").write_text(
                    f"{phrases[i % len(phrases)]} , review {i} .<br /><br />the end",
                    encoding="utf-8")
    unsup = root / "train" / "unsup"
    unsup.mkdir()
    (unsup / "0_0.txt").write_text("no label here", encoding="utf-8")
    return root


def write_ag_news_layout(path: Path, count: int = 24) -> Path:
    """AG News' CSV layout: no header; class index 1-4, title, description."""
    topics = ["world leaders meet", "team wins the cup", "shares rise again", "new chip is fast"]
    lines = [f'"{1 + i % 4}","{topics[i % 4]} {i}","story {i} about {topics[i % 4]}"'
             for i in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


PEOPLE = ["Alice", "Bob", "Carol", "Dave"]
PLACES = ["Paris", "New York", "Rome", "San Francisco"]


def tagged_sentences(count: int = 24) -> list[list[tuple[str, str]]]:
    """``count`` sentences ``PERSON went to PLACE .`` with BIO tags (two-word places)."""
    out = []
    for i in range(count):
        person, place = PEOPLE[i % 4], PLACES[(i // 4) % 4].split()
        words = [(person, "B-PER"), ("went" if i % 2 else "flew", "O"), ("to", "O")]
        words += [(w, "B-LOC" if k == 0 else "I-LOC") for k, w in enumerate(place)]
        out.append([*words, (".", "O")])
    return out


def write_conll(path: Path, count: int = 24, docstart: bool = True) -> Path:
    """CoNLL-2003 layout: ``word POS chunk NER`` per line, blank lines between sentences."""
    lines = ["-DOCSTART- -X- -X- O", ""] if docstart else []
    for sentence in tagged_sentences(count):
        lines += [f"{w} NNP B-NP {t}" for w, t in sentence] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_conllu(path: Path, count: int = 12) -> Path:
    """CoNLL-U: comments, a multiword range line, ten tab-separated columns; UPOS in column 3."""
    lines = []
    for i, sentence in enumerate(tagged_sentences(count)):
        lines += [f"# sent_id = {i}", f"# text = {' '.join(w for w, _ in sentence)}"]
        if i == 0:
            lines.append("1-2\tAliceX\t_\t_\t_\t_\t_\t_\t_\t_")
        for k, (w, tag) in enumerate(sentence, 1):
            upos = "PROPN" if tag != "O" else ("PUNCT" if w == "." else "VERB")
            lines.append("\t".join([str(k), w, w.lower(), upos, "_", "_", "0", "dep", "_", "_"]))
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_word_lm(folder: Path, layout: str = "ptb", lines: int = 60) -> Path:
    """Three small split files in the PTB (``ptb.train.txt``...) or WikiText-2
    (``wiki.train.tokens``...) layout, with ``<unk>`` as the corpora have it."""
    names = {"ptb": ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"),
             "wikitext2": ("wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens")}[layout]
    folder.mkdir(parents=True, exist_ok=True)
    animals, things = ["cat", "dog", "fox", "owl"], ["birds", "boats", "stars", "<unk>"]
    for k, name in enumerate(names):
        rows = [f" the {animals[(i + k) % 4]} saw {i % 7} {things[i % 4]} by the river ."
                for i in range(lines if k == 0 else lines // 3)]
        (folder / name).write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder
