"""The package as users get it: a non-editable install, and seqlstm's groups in another app."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
import venv
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


def test_wheel_install_runs_the_console_scripts_from_any_folder(tmp_path, small_text):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    site = subprocess.run([bin_dir / "python", "-c",
                           "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # the dependencies come from this interpreter's site-packages; seqlstm itself does not
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([bin_dir / "python", "-m", "pip", "install", "-q", "--no-deps",
                    str(REPO_ROOT)], check=True, capture_output=True, text=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["OMP_NUM_THREADS"] = "1"
    where = subprocess.run([bin_dir / "python", "-c",
                            "import seqlstm.configs as c; print(c.__file__, c.config_dir())"],
                           cwd=work, env=env, capture_output=True, text=True, check=True)
    module_file, conf = where.stdout.split()
    assert module_file.startswith(str(env_dir)) and conf.startswith(str(env_dir))

    def script(name: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([bin_dir / name, *args], cwd=work, env=env, capture_output=True,
                              text=True, check=True, timeout=600)

    script("seqlstm-train", "data=char", f"data.path={small_text}", "trainer.max_epochs=1",
           "model.encoder.hidden_size=16", "data.seq_len=16", "data.batch_size=8",
           "+trainer.limit_train_batches=2", "+trainer.limit_val_batches=1",
           "+trainer.limit_test_batches=1", "trainer.enable_progress_bar=false",
           "~callbacks.rich_progress_bar", "sample.length=5")
    (checkpoint,) = work.glob("logs/train/runs/*/checkpoints/last.ckpt")
    assert "val/loss" in script("seqlstm-eval", f"ckpt_path={checkpoint}", "split=val").stdout
    assert script("seqlstm-generate", f"ckpt_path={checkpoint}", "prompt=the",
                  "length=10").stdout.startswith("the")


def test_search_path_plugin_exposes_seqlstm_groups_to_another_app(tmp_path):
    app = tmp_path / "my_app.py"
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "config.yaml").write_text(textwrap.dedent("""
        defaults:
          - model: stacked_gru
          - data: char
          - _self_
        data:
          path: corpus.txt
    """))
    app.write_text(textwrap.dedent("""
        import hydra
        from omegaconf import OmegaConf

        @hydra.main(version_base="1.3", config_path="conf", config_name="config")
        def main(cfg):
            print(OmegaConf.to_yaml(cfg))

        if __name__ == "__main__":
            main()
    """))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run([sys.executable, str(app), "hydra.run.dir=."], cwd=tmp_path, env=env,
                            capture_output=True, text=True, check=True)
    assert "cell: gru" in result.stdout and "num_layers: 2" in result.stdout
    assert "_target_: seqlstm.data.CharDataModule" in result.stdout
