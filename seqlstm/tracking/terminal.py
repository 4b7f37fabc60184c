"""What ``seqlstm-train`` prints: a one-screen start banner, an end summary, a quiet mode."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger, WandbLogger
from omegaconf import DictConfig, OmegaConf
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from seqlstm import runtime
from seqlstm.spec import SPLITS

#: library loggers that chat on every run; quiet mode raises them to warnings
CHATTY_LOGGERS = ("lightning.pytorch", "lightning.fabric", "seqlstm")


def console() -> Console:
    return Console(highlight=False)


def quiet_libraries() -> None:
    """Keep Lightning's (and seqlstm's) informational lines off the terminal."""
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


# -- start banner ----------------------------------------------------------------------------
def run_config(cfg: DictConfig) -> dict[str, Any]:
    """The composed config as plain data, without Hydra's own section (what loggers record)."""
    return {key: OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value)
            else value for key, value in cfg.items() if key != "hydra"}


def short(value: Any) -> str:
    """One config value on one line: ``{_target_: a.b.Adam, lr: 0.1}`` -> ``Adam(lr=0.1)``."""
    if isinstance(value, Mapping):
        args = ", ".join(f"{k}={short(v)}" for k, v in value.items()
                         if k not in ("_target_", "_partial_"))
        if "_target_" in value:
            return f"{str(value['_target_']).rsplit('.', 1)[-1]}({args})"
        return "{" + args + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(short(v) for v in value) + "]"
    return str(value)


def _leaves(branch: Tree, values: Mapping[str, Any]) -> None:
    """Scalars of ``values`` on one wrapped line, plain nested sections as sub-branches."""
    line = Text()
    for key, value in values.items():
        if isinstance(value, Mapping) and value and "_target_" not in value:
            continue
        line.append(f"{key}=", style="dim").append(short(value)).append("  ")
    if line:
        branch.add(line)
    for key, value in values.items():
        if isinstance(value, Mapping) and value and "_target_" not in value:
            _leaves(branch.add(Text(key, style="bold")), value)


def config_tree(config: Mapping[str, Any], target_kind: str | None = None) -> Tree:
    """The composed config as a compact tree: one branch per group, labelled with the option
    chosen on the command line (``model (lstm)``), callbacks and loggers by name only; with
    ``target_kind``, the model's ``task_options`` of that kind alone (the ones in use)."""
    choices = dict(HydraConfig.get().runtime.choices) if HydraConfig.initialized() else {}
    tree = Tree(Text("config", style="bold"), guide_style="dim")
    output_dir = (config.get("paths") or {}).get("output_dir")
    top = {}
    # the groups chosen on the command line first, then the run's own keys
    for key, value in sorted(config.items(), key=lambda item: item[0] not in choices):
        if key in ("paths", "runtime"):  # the banner's facts show the runtime in use
            continue
        label = Text(key, style="bold cyan")
        if choices.get(key):
            label.append(f" ({choices[key]})", style="cyan")
        if key in ("callbacks", "logger"):
            names = [name for name, entry in (value or {}).items() if entry]
            tree.add(label.append(": " + (", ".join(names) or "none")))
        elif isinstance(value, Mapping):
            if key == "model" and target_kind and "task_options" in value:
                options = value["task_options"] or {}
                value = {**value, "task_options": {target_kind: options.get(target_kind)}}
            if "_target_" in value:
                label.append(f"  {str(value['_target_']).rsplit('.', 1)[-1]}", style="green")
            _leaves(tree.add(label), {k: v for k, v in value.items()
                                      if k != "_target_" and (v is None or v != output_dir)})
        else:
            top[key] = value
    _leaves(tree, top)
    return tree


def show_banner(cfg: DictConfig, model: L.LightningModule, trainer: L.Trainer) -> None:
    """Print the run's config tree, output folder, device and parameter count."""
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    device = (f"{trainer.strategy.root_device} x{trainer.num_devices}, "
              f"{trainer.precision} precision, strategy {type(trainer.strategy).__name__}")
    facts = Table.grid(padding=(0, 2))
    facts.add_column(no_wrap=True)
    facts.add_column(overflow="fold")
    facts.add_row(Text("output", style="bold"), str(cfg.paths.output_dir))
    facts.add_row(Text("device", style="bold"), device)
    facts.add_row(Text("runtime", style="bold"), runtime.describe())
    facts.add_row(Text("model", style="bold"),
                  f"{type(model).__name__}: {params:,} parameters ({trainable:,} trainable)")
    kind = getattr(getattr(model, "spec", None), "target_kind", None)
    console().print(Panel(Group(config_tree(run_config(cfg), kind), Text(), facts),
                          title=f"seqlstm {cfg.get('task_name', 'train')}", title_align="left"))


# -- end summary -----------------------------------------------------------------------------
def metrics_table(metrics: Mapping[str, float]) -> Table:
    """Epoch metrics as rows (loss, ppl, ...) by stage columns (train, val, test)."""
    by_name: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        match = re.fullmatch(r"(train|val|test)/(\w+?)(_epoch)?", key)
        if match and not key.endswith("_step") and "_per_s" not in key:
            by_name.setdefault(match.group(2), {})[match.group(1)] = value
    stages = [s for s in SPLITS if any(s in row for row in by_name.values())]
    table = Table(box=None, header_style="bold")
    table.add_column("metric")
    for stage in stages:
        table.add_column(stage, justify="right")
    for name in sorted(by_name, key=lambda n: (n != "loss", n)):
        table.add_row(name, *(f"{by_name[name][s]:.4f}" if s in by_name[name] else ""
                              for s in stages))
    return table


def logger_location(logger: Logger) -> tuple[str, str]:
    """``(name, where to look)`` for a logger, as a command or a path."""
    if isinstance(logger, WandbLogger):
        run = logger._experiment
        if run is None:
            return "wandb", "(no run started)"
        if getattr(run, "offline", False) or run.settings.mode == "offline":
            return "wandb", f"wandb sync {run.dir.rsplit('/files', 1)[0]}"
        return "wandb", str(run.url)
    if isinstance(logger, TensorBoardLogger):
        return "tensorboard", f"tensorboard --logdir {logger.log_dir}"
    if isinstance(logger, CSVLogger):
        return "csv", str(Path(logger.log_dir) / "metrics.csv")
    return type(logger).__name__, str(logger.log_dir or logger.save_dir or "")


def show_summary(metrics: Mapping[str, float], best: str, loggers: Sequence[Logger],
                 files: Sequence[str] = (), sample: str | None = None) -> None:
    """Print the best checkpoint, the metrics by stage, where the logs are and a sample."""
    facts = Table.grid(padding=(0, 2))
    facts.add_column(no_wrap=True)
    facts.add_column(overflow="fold")
    facts.add_row(Text("best checkpoint", style="bold"), best or "(none saved)")
    for logger in loggers:
        name, where = logger_location(logger)
        facts.add_row(Text(name, style="bold"), where)
    for path in files:
        facts.add_row(Text(Path(path).stem, style="bold"), str(path))
    parts: list[Any] = [facts, Text(), metrics_table(metrics)]
    if sample is not None:
        parts += [Text(), Panel(Text(sample), title="sample", title_align="left")]
    console().print(Panel(Group(*parts), title="done", title_align="left", border_style="green"))


def summary_line(metrics: Mapping[str, float], best: str, names: Sequence[str]) -> str:
    """The one line quiet mode prints: the chosen metrics and the best checkpoint."""
    shown = " ".join(f"{name}={metrics[name]:.4f}" for name in names if name in metrics)
    return f"{shown} best={best or '-'}".strip()
