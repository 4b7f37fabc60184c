"""Tables, ratios and the marker-delimited sections of ``docs/benchmarks.md``."""

from __future__ import annotations

import os
import platform
import re
import shlex
import statistics
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.venvs import ROOT

DOC = ROOT / "docs" / "benchmarks.md"
DOC_TITLE = "# Benchmarks\n"


def ratio(value: float | None, reference: float | None) -> float | None:
    """``value / reference``; None when either is missing or the reference is zero."""
    if value is None or reference is None or reference == 0:
        return None
    return value / reference


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def fmt(value: object, digits: int = 3) -> str:
    """A table cell: ``digits`` significant figures for floats, thousands separators for large
    numbers, ``-`` for missing values."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if value == 0:
        return "0"
    if abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub Markdown table; numeric columns are right-aligned."""
    cells = [[fmt(cell) for cell in row] for row in rows]
    numeric = [any(isinstance(row[i], (int, float)) for row in rows)
               and all(isinstance(row[i], (int, float)) or row[i] is None for row in rows)
               for i in range(len(headers))]
    align = ["---:" if numeric[i] else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines) + "\n"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- benchmark:{name}:begin -->", f"<!-- benchmark:{name}:end -->"


def rewrite_section(text: str, name: str, body: str) -> str:
    """Replace what lies between ``name``'s markers with ``body``, or append a new marked
    section; everything outside the markers is kept byte for byte."""
    begin, end = markers(name)
    block = f"{begin}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    found = pattern.findall(text)
    if len(found) > 1:
        raise ValueError(f"the markers of section {name!r} appear {len(found)} times")
    if found:
        return pattern.sub(lambda _: block, text, count=1)
    if not text:
        text = DOC_TITLE
    return text.rstrip("\n") + "\n\n" + block + "\n"


def write_section(name: str, body: str, doc: Path = DOC) -> None:
    """Rewrite ``name``'s section of ``doc`` (created when missing)."""
    text = doc.read_text(encoding="utf-8") if doc.exists() else ""
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(rewrite_section(text, name, body), encoding="utf-8")


def command_line() -> str:
    """The command that is running, as a user would type it from the repository root."""
    return "python -m benchmarks " + shlex.join(sys.argv[1:])


def machine(threads: int, load: tuple[float, float, float] | None = None,
            started: datetime | None = None) -> str:
    """One line naming the machine, when the run started, its load then and the threads used."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = load or os.getloadavg()
    when = (started or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    return (f"{when}; {cpu}, {os.cpu_count()} logical cores, {threads} thread(s) per process; "
            f"Linux load average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
            f"(1/5/15 min); Python {platform.python_version()}")


def now() -> datetime:
    return datetime.now(timezone.utc)


def loaded(load: tuple[float, float, float]) -> bool:
    """Whether other work was running: a one-minute load above a quarter of the cores."""
    return load[0] > 0.25 * (os.cpu_count() or 1)
