"""Hydra-level mistakes (unknown keys and options, keys of another command, bad override syntax,
keys left without a value) end every console script with one seqlstm line and exit status 2,
naming the key and the nearest valid ones; ``HYDRA_FULL_ERROR=1`` keeps Hydra's own error."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hydra.errors import ConfigCompositionException

from seqlstm.cli import scripts
from tests.conftest import REPO_ROOT
from tests.helpers.probes import run_main

GRAMMAR = "https://hydra.cc/docs/advanced/override_grammar/basic/"
QUOTE = (f"(quote a value holding spaces, brackets, quotes or '=': key='a value'; grammar: "
         f"{GRAMMAR})")
MODELS = "bilstm, gru, lstm, rnn, stacked_gru, stacked_lstm"

# (id, script, overrides, the exact error line)
CASES = [
    ("train-key-typo", "train", ["data.pth=x"],
     "seqlstm-train has no config key 'data.pth'; did you mean 'data.path'?"),
    ("train-nested-key-typo", "train", ["model.encoder.hiden_size=8"],
     "seqlstm-train has no config key 'model.encoder.hiden_size'; did you mean "
     "'model.encoder.hidden_size'?"),
    ("train-key-at-wrong-depth", "train", ["hidden_size=8"],
     "seqlstm-train has no config key 'hidden_size'; did you mean 'model.encoder.hidden_size'?"),
    ("train-callback-typo", "train", ["callbacks.early_stoping.patience=3"],
     "seqlstm-train has no config key 'callbacks.early_stoping.patience'; did you mean "
     "'callbacks.early_stopping'?"),
    ("train-top-level-typo", "train", ["ckpt_pth=x"],
     "seqlstm-train has no config key 'ckpt_pth'; did you mean 'ckpt_path'?"),
    ("train-key-below-a-value", "train", ["model.encoder.hidden_size.x=1"],
     "seqlstm-train has no config key 'model.encoder.hidden_size.x' "
     "('model.encoder.hidden_size' holds a value, not keys)"),
    ("train-hydra-key-typo", "train", ["hydra.job.chdr=true"],
     "seqlstm-train has no config key 'hydra.job.chdr'; did you mean 'hydra.job.chdir'?"),
    ("train-unknown-model", "train", ["model=lsmt"],
     f"seqlstm-train has no model option 'lsmt'; did you mean 'lstm'? "
     f"(options: {MODELS})"),
    ("train-unknown-logger", "train", ["logger=wandbb"],
     "seqlstm-train has no logger option 'wandbb'; did you mean 'wandb'? "
     "(options: csv, tensorboard, wandb)"),
    ("train-unknown-nested-group", "train", ["trainer/precision=bf17"],
     "seqlstm-train has no trainer/precision option 'bf17' "
     "(options: 16-mixed, 32-true, bf16-mixed)"),
    ("train-unknown-launcher", "train", ["hydra/launcher=nope"],
     "seqlstm-train has no hydra/launcher option 'nope' (options: basic, joblib, "
     "local_parallel, slurm, submitit_local, submitit_slurm)"),
    ("train-null-group", "train", ["model=null"],
     "Config group override must be a string or a list. Got NoneType (in 'model=null': model "
     "takes an option name, e.g. model=NAME)"),
    ("train-group-appended-twice", "train", ["+model=gru"],
     "Multiple values for model. To override a value use 'override model: gru' (in "
     "'+model=gru': choose another model with model=gru, without +)"),
    ("train-append-existing-key", "train", ["+seed=3"],
     "Could not append to config. An item is already at 'seed'. Either remove + prefix: "
     "'seed=3' Or add a second + to add or override 'seed': '++seed=3'"),
    ("train-delete-missing-key", "train", ["~callbacks.foo"],
     "Could not delete from config. 'callbacks.foo' does not exist."),
    ("train-no-equals", "train", ["seed"],
     f"cannot parse override 'seed': missing EQUAL at '<EOF>' (write key=value; grammar: "
     f"{GRAMMAR})"),
    ("train-open-bracket", "train", ["data.path=[a"],
     f"cannot parse override 'data.path=[a': no viable alternative at input '[a' {QUOTE}"),
    ("train-open-quote", "train", ["data.path='a"],
     f"cannot parse override 'data.path='a': a quote or bracket is not closed {QUOTE}"),
    ("train-unknown-constructor-key", "train", ["++data.pth=3"],
     "config key 'data.pth' must be a key CharDataModule takes (did you mean "
     "'data.path'?), got 3"),
    ("train-missing-value", "train", ["data=char"],
     "config key 'data.path' must be given a value for seqlstm-train (add data.path=...), "
     "got '???'"),
    ("train-unresolved-interpolation", "train", ["data=char", "data.path=${nowhere}"],
     "config key 'data.path' must be an interpolation that resolves (Interpolation key "
     "'nowhere' not found), got '${nowhere}'"),
    ("multirun-unknown-option", "train", ["-m", "model=lstm,lsmt"],
     f"seqlstm-train has no model option 'lsmt'; did you mean 'lstm'? "
     f"(options: {MODELS})"),
    ("multirun-key-typo", "train", ["-m", "data.pth=1,2"],
     "seqlstm-train has no config key 'data.pth'; did you mean 'data.path'?"),
    ("sweeper-key-typo", "train", ["-m", "hparams_search=lm_optuna", "hydra.sweeper.n_trial=3"],
     "seqlstm-train has no config key 'hydra.sweeper.n_trial'; did you mean "
     "'hydra.sweeper.n_trials'?"),
    ("sweeper-unknown-option", "train", ["-m", "hydra/sweeper=optuna"],
     "seqlstm-train has no hydra/sweeper option 'optuna'; did you mean 'seqlstm_optuna'? "
     "(options: basic, seqlstm_optuna)"),
    ("eval-key-of-train", "evaluate", ["ckpt_path=a.ckpt", "data.path=other.txt"],
     "seqlstm-eval has no config key 'data.path'; did you mean 'data_path'?"),
    ("eval-unknown-trainer", "evaluate", ["ckpt_path=a.ckpt", "trainer=cpuu"],
     "seqlstm-eval has no trainer option 'cpuu'; did you mean 'cpu'? (options: auto, cpu, "
     "ddp, ddp_cpu, ddp_spawn, default, deterministic, gpu, multinode)"),
    ("eval-no-checkpoint", "evaluate", [],
     "config key 'ckpt_path' must be given a value for seqlstm-eval (add ckpt_path=...), "
     "got '???'"),
    ("generate-key-typo", "generate", ["ckpt_path=a.ckpt", "temprature=0.5"],
     "seqlstm-generate has no config key 'temprature'; did you mean 'temperature'?"),
    ("generate-no-checkpoint", "generate", [],
     "config key 'ckpt_path' must be given a value for seqlstm-generate (add ckpt_path=...), "
     "got '???'"),
    ("predict-key-typo", "predict", ["ckpt_path=a.ckpt", "data_pth=new.csv"],
     "seqlstm-predict has no config key 'data_pth'; did you mean 'data_path'?"),
    ("predict-no-checkpoint", "predict", [],
     "config key 'ckpt_path' must be given a value for seqlstm-predict (add ckpt_path=...), "
     "got '???'"),
    ("export-key-typo", "export", ["ckpt_path=a.ckpt", "format=onnx"],
     "seqlstm-export has no config key 'format'; did you mean 'formats'?"),
    ("export-bad-list", "export", ["ckpt_path=a.ckpt", "formats=[onnx"],
     f"cannot parse override 'formats=[onnx': no viable alternative at input '[onnx' {QUOTE}"),
    ("transcribe-key-typo", "transcribe", ["a.wav", "ckpt_path=a.ckpt", "decodr=beam"],
     "seqlstm-transcribe has no config key 'decodr'; did you mean 'decoder'?"),
    ("transcribe-no-checkpoint", "transcribe", ["a.wav"],
     "config key 'ckpt_path' must be given a value for seqlstm-transcribe (add ckpt_path=...), "
     "got '???'"),
]


@pytest.mark.parametrize(("script", "overrides", "line"),
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_hydra_mistake_is_one_line_with_exit_2(script, overrides, line, tmp_path, monkeypatch):
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    overrides = [*overrides, f"hydra.sweep.dir={tmp_path}/multirun"] if "-m" in overrides \
        else overrides
    assert run_main(getattr(scripts, script), *overrides, cwd=tmp_path) == f"error: {line}"
    assert not list(tmp_path.rglob("*.ckpt"))


def test_every_console_script_is_covered():
    assert len(CASES) >= 20
    assert {case[1] for case in CASES} == {"train", "evaluate", "generate", "predict", "export",
                                           "transcribe"}


def test_full_error_keeps_hydras_exception(tmp_path, monkeypatch):
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["seqlstm-eval", "ckpt_path=a", "data.path=x",
                                      "hydra.output_subdir=null", f"hydra.run.dir={tmp_path}"])
    with pytest.raises(ConfigCompositionException, match=r"Could not override 'data\.path'"):
        scripts.evaluate()


def test_console_script_prints_only_the_line(tmp_path):
    """The real process: one stderr line, exit 2, before torch is imported."""
    code = ("import sys; from seqlstm.cli.scripts import evaluate\n"
            "try:\n    evaluate()\nfinally:\n    print('torch' in sys.modules, file=sys.stdout)")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "HYDRA_FULL_ERROR": "0"}
    result = subprocess.run([sys.executable, "-c", code, "ckpt_path=a", "data.path=x"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: seqlstm-eval has no config key 'data.path'; did you mean 'data_path'?"]
    assert result.stdout.strip() == "False"
