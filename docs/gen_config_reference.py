"""Generate the configuration reference page from ``conf/`` and the docstrings it points at.

Used as a MkDocs hook (``hooks:`` in ``mkdocs.yml``): the page ``configuration.md`` is built
fresh on every ``mkdocs build``/``serve``, so it never goes stale. ``python
docs/gen_config_reference.py`` prints it.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
PAGE = "configuration.md"
ENTRY_POINTS = {"train": "seqlstm-train", "eval": "seqlstm-eval", "generate": "seqlstm-generate",
                "predict": "seqlstm-predict", "export": "seqlstm-export",
                "backtest": "seqlstm-backtest", "transcribe": "seqlstm-transcribe"}


def leading_comment(text: str) -> str:
    """The ``#`` lines at the top of a YAML file, as prose."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        if not line.startswith("# @package"):
            lines.append(line.lstrip("#").strip())
    return " ".join(lines)


def targets(node: Any, prefix: str = "") -> list[tuple[str, str]]:
    """``(key, class path)`` of every ``_target_`` in a loaded YAML tree."""
    found = []
    if isinstance(node, dict):
        if isinstance(node.get("_target_"), str):
            found.append((prefix or "(root)", node["_target_"]))
        for key, value in node.items():
            found += targets(value, f"{prefix}.{key}" if prefix else str(key))
    return found


def docstring(path: str) -> tuple[str, list[str]]:
    """The summary paragraph of the object at ``path`` and, for seqlstm's own classes, the
    lines of its ``Args:`` section."""
    module_name, _, attr = path.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        return f"(cannot import: {err})", []
    doc = inspect.getdoc(obj) or ""
    summary = " ".join(doc.split("\n\n", 1)[0].split())
    args: list[str] = []
    if path.startswith("seqlstm.") or not path.startswith(("lightning.", "torch.")):
        match = re.search(r"^Args:\n((?:    .*\n?|\n)+)", doc, flags=re.M)
        if match:
            args = [line[4:] for line in match.group(1).rstrip().splitlines()]
    return summary, args


def describe_targets(tree: Any) -> list[str]:
    lines = []
    for key, path in targets(tree):
        summary, args = docstring(path)
        where = "this config" if key == "(root)" else f"`{key}`"
        lines.append(f"- {where} → `{path}`" + (f": {markdown(summary)}" if summary else ""))
        entries: list[str] = []
        for arg in args:
            if arg.startswith(" ") and entries:
                entries[-1] += " " + arg.strip()
            elif arg.strip():
                entries.append(arg.strip())
        lines += [f"    - {markdown(_name_in_code(entry))}" for entry in entries]
    return lines


def markdown(text: str) -> str:
    """reStructuredText ````code```` and ``:class:`X``` as Markdown ```code```."""
    return re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text.replace("``", "`"))


def _name_in_code(entry: str) -> str:
    """``name, other: text`` -> ```name, other`: text``."""
    names, sep, text = entry.partition(": ")
    if sep and re.fullmatch(r"[\w*, ]+", names):
        return f"`{names}`: {text}"
    return entry


def option_section(path: Path, level: str) -> list[str]:
    text = path.read_text(encoding="utf-8")
    name = path.relative_to(CONF).with_suffix("").as_posix()
    lines = [f"{level} `{name}`", ""]
    comment = leading_comment(text)
    if comment:
        lines += [comment, ""]
    described = describe_targets(yaml.safe_load(text) or {})
    if described:
        lines += [*described, ""]
    lines += ["```yaml", text.rstrip(), "```", ""]
    return lines


def render() -> str:
    """The whole reference page as Markdown."""
    lines = [
        "# Configuration reference",
        "",
        "Generated from `conf/` by `docs/gen_config_reference.py` each time the site is built;",
        "edit the YAML comments and docstrings, not this page. Pick an option of a group on the",
        "command line (`seqlstm-train model=gru`), set any key (`model.encoder.hidden_size=512`),",
        "add a key the option lacks with `+` (`+trainer.limit_train_batches=10`).",
        "",
        "## Commands",
        "",
    ]
    for config, command in ENTRY_POINTS.items():
        text = (CONF / f"{config}.yaml").read_text(encoding="utf-8")
        lines += [f"### `{command}` (`conf/{config}.yaml`)", "", "```yaml", text.rstrip(), "```",
                  ""]
    groups = sorted(p for p in CONF.iterdir() if p.is_dir())
    lines += ["## Groups", "", "| group | options |", "|---|---|"]
    for group in groups:
        options = ", ".join(f"`{p.relative_to(group).with_suffix('').as_posix()}`"
                            for p in sorted(group.rglob("*.yaml")))
        lines.append(f"| [`{group.name}`](#{group.name}) | {options} |")
    lines.append("")
    for group in groups:
        lines += [f"### {group.name}", ""]
        for path in sorted(group.rglob("*.yaml")):  # nested groups too: hydra/launcher/...
            lines += option_section(path, "####")
    return "\n".join(lines).rstrip() + "\n"


def on_files(files: Any, config: Any) -> Any:
    """MkDocs hook: add the generated page to the site."""
    from mkdocs.structure.files import File

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    files.append(File.generated(config, PAGE, content=render()))
    return files


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    print(render(), end="")
