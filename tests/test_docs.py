"""The docs: every shell or Python block is run here or says why not; the site builds strictly.

Mark each ``bash``/``python`` block in ``README.md`` and ``docs/*.md`` on the line before it:

- ``<!-- docs-test: run -->``: run by :func:`test_runnable_blocks_work` (the blocks of a page run
  in order, in one scratch folder holding ``input.txt``; ``seqlstm-train`` gets tiny overrides
  appended so it trains a few batches (``data.seq_len`` only for character data), W&B runs
  offline);
- ``<!-- docs-test: skip (reason) -->``: not run, for the reason given (needs a GPU, a
  cluster, the network, or another test runs it).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from seqlstm.configs import config_dir
from tests.conftest import REPO_ROOT

DOCS = REPO_ROOT / "docs"
PAGES = sorted([*DOCS.glob("*.md"), *REPO_ROOT.glob("README.md")])
CHECKED_LANGUAGES = ("bash", "sh", "shell", "console", "python")
MARKER = re.compile(r"<!-- docs-test: (?:(run)|skip \((.+)\)) -->")
#: appended to every seqlstm-train command of the docs: a few batches of a small model
TINY_TRAIN = ["trainer.max_epochs=1", "++trainer.limit_train_batches=2",
              "++trainer.limit_val_batches=2", "++trainer.limit_test_batches=1",
              "++trainer.val_check_interval=1.0", "data.seq_len=16", "data.batch_size=4",
              "model.encoder.hidden_size=16", "sample.length=20"]
#: the data configs that have ``seq_len`` (character data)
CHAR_DATA = ("char", "pystdlib", "tinyshakespeare")
WRAPPER = '''import re, runpy, sys
from pathlib import Path
args = sys.argv[1:]
extra = {extra!r}


def data_group():
    """The data config a command line picks: data=, else its experiment's (or parent's)."""
    for arg in args:
        if arg.startswith("data="):
            return arg[len("data="):]
    name = next((a[len("experiment="):] for a in args if a.startswith("experiment=")), None)
    while name:
        text = Path({conf!r}, "experiment", name + ".yaml").read_text()
        found = re.search(r"override /data: *(\\w+)", text)
        if found:
            return found.group(1)
        parent = re.search(r"^  - (\\w+) *$", text, re.M)
        name = parent.group(1) if parent else None
    return "pystdlib"


if {train!r} and data_group() not in {char_data!r}:
    extra = [a for a in extra if not a.startswith("data.seq_len=")]
if {train!r} and any(a.startswith("ckpt_path=") for a in args):
    # a resumed run gets one more epoch than the runs before it trained, so it has work to do
    runs = len(list(Path("logs").glob("*/runs/*")))
    extra = [f"trainer.max_epochs={{runs + 1}}" if a == "trainer.max_epochs=1" else a
             for a in extra]
if {train!r} and not any(a.startswith(("data=", "experiment=")) and a != "data=pystdlib"
                         for a in args):
    extra = extra + ["data.path.max_bytes=60000"]
sys.argv = [sys.argv[0], *args, *extra]
runpy.run_module("seqlstm.cli.{module}", run_name="__main__", alter_sys=True)
'''


@dataclass
class Block:
    page: Path
    line: int
    language: str
    code: str
    run: bool
    reason: str | None

    def __str__(self) -> str:
        return f"{self.page.relative_to(REPO_ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of ``page`` in a checked language, with their markers."""
    found, lines = [], page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        fence = re.match(r"```(\w+)", lines[index])
        if not fence:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        if fence.group(1) in CHECKED_LANGUAGES:
            before = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
            marker = MARKER.fullmatch(before.strip())
            code = "\n".join(lines[index + 1:end])
            if "--8<--" not in code:  # an included file: the file has its own tests
                found.append(Block(page, index + 1, fence.group(1), code,
                                   bool(marker and marker.group(1)),
                                   marker.group(2) if marker else None))
        index = end + 1
    return found


def test_every_code_block_is_run_or_says_why_not():
    unmarked = [str(b) for page in PAGES for b in blocks(page) if not b.run and not b.reason]
    assert not unmarked, ("code blocks with neither <!-- docs-test: run --> nor "
                          f"<!-- docs-test: skip (reason) --> before them: {unmarked}")
    assert any(b.run for page in PAGES for b in blocks(page))


def runnable_pages() -> list[Path]:
    return [page for page in PAGES if any(b.run for b in blocks(page))]


@pytest.mark.slow
@pytest.mark.parametrize("page", runnable_pages(), ids=lambda p: p.name)
def test_runnable_blocks_work(page, tmp_path, small_text):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for command, module in [("seqlstm-train", "train"), ("seqlstm-eval", "evaluate"),
                            ("seqlstm-generate", "generate"), ("seqlstm-predict", "predict"),
                            ("seqlstm-export", "export"), ("seqlstm-backtest", "backtest"),
                            ("seqlstm-transcribe", "transcribe")]:
        train = module == "train"
        script = bin_dir / command
        script.write_text(f"#!{sys.executable}\n" + WRAPPER.format(
            extra=TINY_TRAIN if train else [], train=train, module=module,
            conf=str(config_dir()), char_data=CHAR_DATA))
        script.chmod(0o755)
    python = bin_dir / "python"  # the blocks' `python` is this interpreter
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    (work / "input.txt").write_text(small_text.read_text())
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "examples")]),
           "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path),
           "WANDB_CACHE_DIR": str(tmp_path / "wandb-cache"),
           "WANDB_CONFIG_DIR": str(tmp_path / "wandb-config"),
           "WANDB_DATA_DIR": str(tmp_path / "wandb-data"), "COLUMNS": "120"}
    for block in blocks(page):
        if not block.run:
            continue
        runner = ["bash", "-euo", "pipefail", "-c"] if block.language != "python" \
            else [sys.executable, "-c"]
        result = subprocess.run([*runner, block.code], cwd=work, env=env, capture_output=True,
                                text=True, timeout=600)
        assert result.returncode == 0, (f"{block} failed ({result.returncode}):\n{block.code}\n"
                                        f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}")


def load_reference_generator():
    spec = importlib.util.spec_from_file_location("gen_config_reference",
                                                  DOCS / "gen_config_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_config_reference_covers_every_config_and_its_docstrings():
    page = load_reference_generator().render()
    for path in sorted(config_dir().rglob("*.yaml")):
        name = path.relative_to(config_dir()).with_suffix("").as_posix()
        if "/" in name:
            assert f"#### `{name}`" in page, name
        else:
            assert f"(`conf/{name}.yaml`)" in page, name
    assert ("- `watch`: `gradients`, `parameters` or `all` to log histograms with "
            "`wandb.watch`.") in page
    assert "- this config → `seqlstm.data.CharDataModule`: Next-character prediction" in page


def test_every_page_is_in_the_nav():
    nav = (REPO_ROOT / "mkdocs.yml").read_text()
    pages = {p.name for p in DOCS.glob("*.md")} | {"configuration.md"}
    assert {name for name in pages if f": {name}" not in nav} == set()


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                             str(tmp_path / "site")], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=600,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT),
                                 "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ResidualEncoder" in (tmp_path / "site" / "extending" / "index.html").read_text()
    reference = (tmp_path / "site" / "configuration" / "index.html").read_text()
    assert "seqlstm.tracking.wandb.WandbLogger" in reference
