"""Reading tagged sentences: CoNLL-2003 style columns and CoNLL-U.

CoNLL (``.conll``, ``.txt``, anything but ``.conllu``): one token per line, whitespace-separated
columns (CoNLL-2003: word, POS, chunk, NER), blank lines between sentences, ``-DOCSTART-``
lines skipped; every line of a file has the same number of columns. CoNLL-U (``.conllu``): ten
tab-separated columns, ``#`` comment lines, multiword ranges (``1-2``) and empty nodes (``1.1``)
skipped. Each word keeps its line number for messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seqlstm.errors import ConfigError, DataError

FORMATS = ("auto", "conll", "conllu")
CONLLU_COLUMNS = 10
#: default (token, tag) columns: CoNLL-2003 word and NER tag; CoNLL-U FORM and UPOS
DEFAULT_COLUMNS = {"conll": (0, -1), "conllu": (1, 3)}


@dataclass
class TaggedSentences:
    """Sentences of one file: words, tags (None when unlabelled) and the line of each word."""

    path: Path
    words: list[list[str]]
    tags: list[list[str]] | None
    lines: list[list[int]]

    def subset(self, index: list[int]) -> TaggedSentences:
        return TaggedSentences(self.path, [self.words[i] for i in index],
                               None if self.tags is None else [self.tags[i] for i in index],
                               [self.lines[i] for i in index])


def conll_format(path: Path, fmt: str) -> str:
    if fmt not in FORMATS:
        raise ConfigError("data.format", f"one of {list(FORMATS)}", fmt)
    if fmt != "auto":
        return fmt
    return "conllu" if path.suffix.lower() == ".conllu" else "conll"


def read_tagged(path: str | Path, fmt: str = "auto", token_column: int | None = None,
                tag_column: int | None = None, require_tags: bool = True) -> TaggedSentences:
    """Read ``path``; an unlabelled file (``require_tags=False``) may hold the token column
    alone."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    fmt = conll_format(path, fmt)
    token_col, tag_col = DEFAULT_COLUMNS[fmt]
    token_col = token_col if token_column is None else int(token_column)
    tag_col = tag_col if tag_column is None else int(tag_column)
    out = TaggedSentences(path, [], [], [])
    words: list[str] = []
    tags: list[str] = []
    lines: list[int] = []
    width, first_line = None, 0

    def close() -> None:
        if words:
            out.words.append(list(words))
            out.tags.append(list(tags))
            out.lines.append(list(lines))
            words.clear(), tags.clear(), lines.clear()

    with path.open(encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.rstrip("\n\r")
            if not line.strip():
                close()
                continue
            if fmt == "conllu":
                if line.startswith("#"):
                    continue
                fields = line.split("\t")
                if len(fields) != CONLLU_COLUMNS:
                    raise DataError(f"{path}:{number}:1: {len(fields)} tab-separated columns; "
                                    f"CoNLL-U has {CONLLU_COLUMNS}")
                if "-" in fields[0] or "." in fields[0]:
                    continue
            else:
                fields = line.split()
                if fields[0] == "-DOCSTART-":
                    continue
                if width is None:
                    width, first_line = len(fields), number
                elif len(fields) != width:
                    column = len(" ".join(fields[:width])) + 1 if len(fields) > width \
                        else len(line) + 1
                    raise DataError(f"{path}:{number}:{column}: {len(fields)} columns, expected "
                                    f"{width} (as on line {first_line})")
            has_tag = require_tags or len(fields) > 1
            for col, what in ((token_col, "token"), *(((tag_col, "tag"),) if has_tag else ())):
                if not -len(fields) <= col < len(fields):
                    raise DataError(f"{path}:{number}: no {what} column {col} in "
                                    f"{len(fields)} columns; set data.{what}_column")
            words.append(fields[token_col])
            tags.append(fields[tag_col] if has_tag else "_")
            lines.append(number)
    close()
    if not out.words:
        raise DataError(f"{path}: no sentences")
    if not require_tags and all(t == "_" for sentence in out.tags for t in sentence):
        out.tags = None
    return out
