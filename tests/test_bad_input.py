"""The bad-input table: each bad file or config value stops the command with one message that
names the culprit (file and line, config key) and what was expected, and leaves no outputs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from seqlstm.cli.evaluate import evaluate
from seqlstm.cli.generate import generate
from seqlstm.cli.train import train
from seqlstm.errors import SeqlstmError
from tests.conftest import FAST_WITH_CALLBACKS
from tests.helpers.faults import write_malicious
from tests.helpers.reliability import trained

__all__ = ["trained"]  # the fixture, imported for pytest
TINY = ["data=char", "data.seq_len=16", "data.batch_size=8", "model.encoder.hidden_size=16",
        "logger=[]", "test=false", *FAST_WITH_CALLBACKS]
#: the same for a time series (train-series) and a labelled-sequence file (train-sequences)
SERIES = ["data=timeseries", "data.targets=[y]", "data.time_column=t", "data.lookback=4",
          "data.batch_size=4", "model.encoder.hidden_size=8", "logger=[]", "test=false",
          *FAST_WITH_CALLBACKS]
SEQUENCES = ["data=sequences", "data.batch_size=4", "model.encoder.hidden_size=8", "logger=[]",
             "test=false", *FAST_WITH_CALLBACKS]
MARKS = {"gpu-absent": pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")}

# (id, command, overrides, message): {text} is a good corpus, {tmp} this test's folder,
# {ckpt} a trained language model, {evil} a checkpoint carrying a pickle payload
CASES = [
    # text files
    ("missing-file", "train", ["data.path={tmp}/nope.txt"],
     r"^data\.path: no such file or folder: .*/nope\.txt$"),
    ("empty-file", "train", ["data.path={tmp}/empty.txt"],
     r"^.*/empty\.txt: the file is empty; expected UTF-8 text$"),
    ("empty-folder", "train", ["data.path={tmp}/nothing"],
     r"^data\.path: folder .*/nothing has no file matching '\*\*/\*\.txt'$"),
    ("empty-path-list", "train", ["data.path=[]"], r"^data\.path is an empty list"),
    ("shorter-than-a-window", "train", ["data.path={tmp}/short.txt"],
     r"^.*/short\.txt: the train split has 9 characters, fewer than one window "
     r"\(data\.seq_len \+ 1 = 17\)"),
    ("not-utf8", "train", ["data.path={tmp}/latin1.txt"],
     r"^.*/latin1\.txt:2:4: not UTF-8 \(byte 0xe9 at offset 14\); re-encode the file as UTF-8$"),
    # series and labelled-sequence files
    ("series-unsorted-times", "train-series", ["data.path={tmp}/unsorted.csv"],
     r"^.*/unsorted\.csv: series '0', row 4 \(line 5\): t 2 is earlier than the previous "
     r"row's 3; sort the rows by time$"),
    ("series-duplicate-times", "train-series", ["data.path={tmp}/duplicate.csv"],
     r"^.*/duplicate\.csv: series '0', row 4 \(line 5\): t 2 repeats the previous row's 2; "
     r"each time may appear once per series$"),
    ("series-not-a-number", "train-series", ["data.path={tmp}/nonnumeric.csv"],
     r"^.*/nonnumeric\.csv: row 3 \(line 4\), column 'y': 'abc' is not a number$"),
    ("series-nan-under-error", "train-series", ["data.path={tmp}/gappy.csv"],
     r"^.*/gappy\.csv: series '0', row 3 \(line 4\), t 2: column 'y' is missing; set "
     r"data\.missing to ffill, interpolate or drop to handle it$"),
    ("series-missing-target", "train-series", ["data.path={tmp}/series.csv", "data.targets=[z]"],
     r"^.*/series\.csv: no target column 'z'; the columns are \['t', 'y'\]$"),
    ("sequences-empty-ts", "train-sequences", ["data.path={tmp}/empty.ts"],
     r"^.*/empty\.ts: the file is empty; expected a header"),
    # configs: model
    ("hidden-size-zero", "train", ["model.encoder.hidden_size=0"],
     r"^config key 'model\.encoder\.hidden_size' must be an integer >= 1, got 0$"),
    ("unknown-cell", "train", ["model.encoder.cell=transformer"],
     r"^config key 'model\.encoder\.cell' must be one of \['gru', 'lstm', 'rnn'\], "
     r"got 'transformer'$"),
    ("dropout-out-of-range", "train", ["model.encoder.num_layers=2", "model.encoder.dropout=1.5"],
     r"^config key 'model\.encoder\.dropout' must be a number in \[0, 1\), got 1\.5$"),
    ("dropout-with-one-layer", "train", ["model.encoder.dropout=0.3"],
     r"^config key 'model\.encoder\.dropout' must be 0 with num_layers=1"),
    ("embedding-dropout-one", "train", ["model.embedding_dropout=1.0"],
     r"^config key 'model\.embedding_dropout' must be a number in \[0, 1\), got 1\.0$"),
    ("negative-lr", "train", ["model.optimizer.lr=-0.1"],
     r"^config key 'model\.optimizer\.lr' must be a number > 0, got -0\.1$"),
    ("bad-optimizer-target", "train", ["model.optimizer._target_=os.system"],
     r"^config key 'model\.optimizer\._target_' must be an importable subclass of "
     r"torch\.optim\.optimizer\.Optimizer, got 'os\.system'$"),
    ("hostile-model-target", "train", ["model._target_=os.system"],
     r"^config key 'model\._target_' must be an importable subclass of "
     r"seqlstm\.tasks\.base\.SequenceTask, got 'os\.system'$"),
    # configs: data
    ("hostile-data-target", "train", ["data._target_=subprocess.call"],
     r"^config key 'data\._target_' must be an importable subclass of "
     r"lightning\.pytorch\.core\.datamodule\.LightningDataModule, got 'subprocess\.call'$"),
    ("seq-len-zero", "train", ["data.seq_len=0"],
     r"^config key 'data\.seq_len' must be an integer >= 1, got 0$"),
    ("negative-batch-size", "train", ["data.batch_size=-4"],
     r"^config key 'data\.batch_size' must be an integer >= 1, got -4$"),
    ("bad-split-fractions", "train", ["data.split=[0.5,0.6,0.1]"],
     r"^config key 'data\.split' must be three fractions \(train > 0, val > 0, test >= 0\) "
     r"summing to 1, got \[0\.5, 0\.6, 0\.1\]$"),
    # configs: trainer, callbacks, run
    ("too-many-devices", "train", ["trainer.devices=10000"],
     r"^config key 'trainer\.devices' must be at most \d+ \(CPU cores, one process each "
     r"available here\), got 10000$"),
    ("bad-precision", "train", ["trainer.precision=17"],
     r"^config key 'trainer\.precision' must be one of \['64', .*\], got 17$"),
    ("max-epochs-zero", "train", ["trainer.max_epochs=0"],
     r"^config key 'trainer\.max_epochs' must be an integer >= 1, or -1 for no limit, got 0$"),
    ("gpu-absent", "train", ["trainer=gpu"],
     r"^config key 'trainer\.accelerator' must be cpu or auto: no CUDA GPU is visible here "
     r"\(trainer=ddp_cpu trains with 2 CPU processes\), got 'gpu'$"),
    ("deterministic-without-seed", "train", ["trainer=deterministic", "seed=null"],
     r"^config key 'seed' must be an integer when trainer\.deterministic is true, got None$"),
    ("bad-nan-policy", "train", ["callbacks.numerics.policy=ignore"],
     r"^config key 'callbacks\.numerics\.policy' must be one of \['stop', 'skip'\], "
     r"got 'ignore'$"),
    ("sample-temperature-zero", "train", ["sample.temperature=0"],
     r"^config key 'sample\.temperature' must be a number > 0, got 0$"),
    ("ckpt-path-missing", "train", ["ckpt_path={tmp}/nope.ckpt"],
     r"^ckpt_path: no such checkpoint file: .*/nope\.ckpt$"),
    ("ckpt-path-last-without-runs", "train", ["ckpt_path=last"],
     r"^ckpt_path=last: no run under .*/logs/train/runs has checkpoints/last\.ckpt"),
    ("resume-malicious-checkpoint", "train", ["ckpt_path={evil}"],
     r"^.*/evil\.ckpt: refused to load: the file holds objects that are not plain data"),
    # eval and generate
    ("eval-malicious-checkpoint", "eval", ["ckpt_path={evil}"],
     r"^.*/evil\.ckpt: refused to load: the file holds objects that are not plain data"),
    ("eval-not-a-checkpoint", "eval", ["ckpt_path={text}"],
     r"^.*/text\.txt: not a readable checkpoint"),
    ("eval-unknown-split", "eval", ["ckpt_path={ckpt}", "split=train"],
     r"^config key 'split' must be one of \['val', 'test'\], got 'train'$"),
    ("generate-malicious-checkpoint", "generate", ["ckpt_path={evil}"],
     r"^.*/evil\.ckpt: refused to load: the file holds objects that are not plain data"),
    ("temperature-zero", "generate", ["ckpt_path={ckpt}", "temperature=0"],
     r"^config key 'temperature' must be a number > 0, got 0$"),
    ("top-p-out-of-range", "generate", ["ckpt_path={ckpt}", "top_p=1.5"],
     r"^config key 'top_p' must be a number in \(0, 1\] or null, got 1\.5$"),
    ("negative-length", "generate", ["ckpt_path={ckpt}", "length=-5"],
     r"^config key 'length' must be an integer >= 0, got -5$"),
    ("unknown-prompt-characters", "generate", ["ckpt_path={ckpt}", "prompt=QZ"],
     r"^prompt: characters not in the vocabulary: 'QZ' \(2 occurrences\)$"),
]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """The good and bad inputs the table names."""
    (tmp_path / "text.txt").write_text("the cat saw the dog by the river.\n" * 40,
                                       encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "short.txt").write_text("too short\n", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("first line\ncaf\u00e9 au lait\n".encode("latin-1"))
    (tmp_path / "nothing").mkdir()
    series = {"series": range(30), "unsorted": [0, 1, 3, 2, *range(4, 30)],
              "duplicate": [0, 1, 2, 2, *range(4, 30)]}
    for name, times in series.items():
        (tmp_path / f"{name}.csv").write_text(
            "t,y\n" + "".join(f"{t},{t % 7}\n" for t in times))
    (tmp_path / "nonnumeric.csv").write_text(
        "t,y\n" + "".join(f"{t},{'abc' if t == 2 else t}\n" for t in range(30)))
    (tmp_path / "gappy.csv").write_text(
        "t,y\n" + "".join(f"{t},{'' if t == 2 else t}\n" for t in range(30)))
    (tmp_path / "empty.ts").write_text("")
    return {"text": tmp_path / "text.txt", "tmp": tmp_path}


@pytest.fixture(scope="module")
def evil(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("evil")
    return write_malicious(trained, folder / "evil.ckpt", folder / "payload-ran")


@pytest.mark.parametrize(("command", "overrides", "message"),
                         [pytest.param(*case[1:], id=case[0], marks=MARKS.get(case[0], ()))
                          for case in CASES])
def test_bad_input_is_refused_naming_the_culprit(command, overrides, message, files, trained,
                                                 evil, compose_train, tmp_path):
    fields = {**files, "ckpt": trained, "evil": evil}
    overrides = [override.format(**fields) for override in overrides]
    commands = {"train": train, "train-series": train, "train-sequences": train,
                "eval": evaluate, "generate": generate}
    base = {"train": TINY + ([] if any(o.startswith("data.path=") for o in overrides)
                             else [f"data.path={files['text']}"]),
            "train-series": SERIES, "train-sequences": SEQUENCES,
            "eval": [], "generate": []}[command]
    config_name = command.split("-")[0]
    with pytest.raises(SeqlstmError) as error:
        commands[command](compose_train(*base, *overrides, config_name=config_name))
    first_line = str(error.value).splitlines()[0]
    assert re.search(message, first_line), first_line
    assert not list(tmp_path.rglob("*.ckpt")), "a checkpoint was left behind"
    assert not (evil.parent / "payload-ran").exists()


def test_the_table_is_large_enough():
    assert len({case[0] for case in CASES}) == len(CASES) >= 40
