"""Write the golden checkpoints of tests/golden/ (one tiny run of each task) and the outputs
their weights give on fixed inputs; run once per checkpoint format version, from the repository
root: ``python -m tests.golden.make_golden``. Later releases must load them (test_golden.py)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from seqlstm.cli.train import train
from seqlstm.configs import config_dir
from seqlstm.tasks import load_task
from seqlstm.tasks.versions import FORMAT_VERSION

GOLDEN = Path(__file__).resolve().parent
TINY = ["model.encoder.hidden_size=4", "model.embedding_dim=4", "++trainer.max_steps=1",
        "++trainer.limit_val_batches=1", "test=false", "logger=[]", "callbacks=none",
        "sample.length=0", "trainer.enable_progress_bar=false", "seed=0"]


def fixed_inputs(task: torch.nn.Module) -> torch.Tensor:
    """Inputs ``(2, 5)`` token ids or ``(2, 5, F)`` reals for ``task``, the same every time."""
    generator = torch.Generator().manual_seed(0)
    spec = task.spec
    if spec.input_kind == "tokens":
        return torch.randint(spec.input_size, (2, 5), generator=generator)
    return torch.randn(2, 5, spec.input_size, generator=generator)


def outputs(task: torch.nn.Module) -> list:
    with torch.no_grad():
        return task(fixed_inputs(task))[0].tolist()


def data_files(folder: Path) -> dict[str, list[str]]:
    (folder / "text.txt").write_text("the cat sat on the mat. " * 20, encoding="utf-8")
    (folder / "series.csv").write_text("t,y\n" + "".join(f"{t},{np.sin(t / 3):.4f}\n"
                                                           for t in range(60)))
    rng = np.random.default_rng(0)
    np.savez(folder / "seqs.npz", inputs=rng.normal(size=(24, 6, 2)).astype("float32"),
             lengths=np.full(24, 6), labels=np.arange(24) % 2)
    return {
        "language_model": ["data=char", f"data.path={folder / 'text.txt'}", "data.seq_len=8",
                           "data.batch_size=4"],
        "forecaster": ["data=timeseries", f"data.path={folder / 'series.csv'}",
                       "data.targets=[y]", "data.time_column=t", "data.lookback=4",
                       "data.batch_size=4"],
        "classifier": ["data=sequences", f"data.path={folder / 'seqs.npz'}",
                       "data.batch_size=4"],
        "tagger": ["data=running_sign", "data.length=6", "data.train_size=8", "data.val_size=4",
                   "data.test_size=4", "data.batch_size=4"],
    }


def main() -> None:
    expected = {"format_version": FORMAT_VERSION, "tasks": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, overrides in data_files(folder).items():
            with initialize_config_dir(str(config_dir()), version_base="1.3"):
                cfg = compose("train", overrides=[*overrides, *TINY],
                              return_hydra_config=True)
            with open_dict(cfg):
                cfg.paths.output_dir = str(folder / name)
                cfg.hydra.runtime.output_dir = str(folder / name)
                cfg.callbacks = {"ckpt": {
                    "_target_": "lightning.pytorch.callbacks.ModelCheckpoint",
                    "dirpath": str(folder / name), "save_last": True, "save_top_k": 0}}
            HydraConfig.instance().set_config(cfg)
            train(cfg)
            target = GOLDEN / f"{name}_v{FORMAT_VERSION}.ckpt"
            shutil.copyfile(folder / name / "last.ckpt", target)
            task = load_task(target)
            expected["tasks"][name] = {"class": type(task).__name__, "outputs": outputs(task)}
            print(f"{target}: {target.stat().st_size} bytes")
    (GOLDEN / f"expected_v{FORMAT_VERSION}.json").write_text(json.dumps(expected, indent=1))


if __name__ == "__main__":
    main()
