"""Speech: subword output units for CTC (trained on the training transcripts, carried in the
checkpoint, decoded back to text), features made where the batch lands (the same numbers as
the loader's), and ``seqlstm-transcribe``."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("soundfile", reason="audio tests need soundfile (seqlstm[audio])")
pytest.importorskip("tokenizers", reason="subword units need tokenizers (seqlstm[text])")

from torchmetrics.text import CharErrorRate

from seqlstm.cli.entry import positional_override
from seqlstm.data.audio.decode import read_audio
from seqlstm.data.audio.module import AudioDataModule
from seqlstm.data.audio.units import TranscriptUnits
from seqlstm.errors import ConfigError, DataError
from seqlstm.tasks import build_task
from tests.helpers.audio import manifest_folder

MODEL = {"_target_": "seqlstm.tasks.SequenceTask",
         "encoder": {"cell": "lstm", "hidden_size": 16, "num_layers": 1}}


@pytest.fixture
def folder(tmp_path):
    return manifest_folder(tmp_path / "m")


def _spell(ids: list[list[int]], steps: int, classes: int, blank: int) -> torch.Tensor:
    """Scores ``(B, steps, classes)`` whose best path spells each row's ids, blanks between."""
    scores = torch.full((len(ids), steps, classes), -10.0)
    scores[:, :, blank] = 10.0
    for row, units in enumerate(ids):
        for k, unit in enumerate(units):
            scores[row, 2 * k + 1, blank], scores[row, 2 * k + 1, unit] = -10.0, 10.0
    return scores


# -- subword units -------------------------------------------------------------------------
def test_bpe_units_decode_back_to_the_transcripts(folder):
    dm = AudioDataModule(path=str(folder), tokenizer="bpe", vocab_size=262, batch_size=4)
    dm.setup("fit")
    spec = dm.spec
    assert spec.extra["tokenizer"]["kind"] == "bpe"
    assert isinstance(spec.extra["tokenizer"]["json"], str)  # plain data in the checkpoint
    assert 257 < spec.output_size == len(spec.labels) <= 262  # 256 bytes, [UNK], merges
    clips = dm._layout.splits["val"]
    batch = dm.splits["val"].__getitems__(list(range(len(clips))))
    units = TranscriptUnits.from_fitted(spec.extra)
    decoded = [units.decode(row[:n].tolist())
               for row, n in zip(batch["targets"], batch["target_lengths"], strict=True)]
    assert decoded == [c.label for c in clips]
    assert int(batch["target_lengths"].sum()) < sum(len(c.label) for c in clips)  # merges used


def test_units_are_trained_on_the_training_transcripts_alone(folder):
    lines = (folder / "test.csv").read_text().splitlines()
    lines[2] = ",".join([lines[2].split(",")[0], "ab bb", "s"])  # "bb": no training word
    (folder / "test.csv").write_text("\n".join(lines) + "\n")
    dm = AudioDataModule(path=str(folder), tokenizer="word")
    with pytest.raises(DataError, match=r"test.csv:row 3: transcript 'ab bb' has symbols 'bb' "
                                        "that the word output units cannot encode"):
        dm.setup("fit")


def test_a_symbol_outside_subword_units_names_the_row(folder):
    dm = AudioDataModule(path=str(folder), tokenizer="unigram", vocab_size=20)
    dm.setup("fit")
    lines = (folder / "test.csv").read_text().splitlines()
    lines[2] = ",".join([lines[2].split(",")[0], "abc", "s"])
    (folder / "test.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"test.csv:row 3: transcript 'abc' has symbols 'c' "
                                        "that the unigram output units cannot encode"):
        AudioDataModule(path=str(folder), fitted=dm.fitted).setup("test")
    with pytest.raises(ConfigError, match=r"data.units"):
        AudioDataModule(path=str(folder), tokenizer="bpe", units="ab").setup("fit")
    with pytest.raises(DataError, match=r"no such tokenizer file"):
        AudioDataModule(path=str(folder), tokenizer=str(folder / "none.json")).setup("fit")


def test_greedy_beam_and_error_rates_work_on_the_decoded_text(folder):
    dm = AudioDataModule(path=str(folder), tokenizer="bpe", vocab_size=262, batch_size=4)
    dm.setup("fit")
    task = build_task(MODEL, dm.spec)
    assert task.tokenizer is not None and task.blank == dm.spec.output_size
    batch = dm.splits["val"].__getitems__([0, 1, 2, 3])
    ids = [row[:n].tolist() for row, n in zip(batch["targets"], batch["target_lengths"],
                                              strict=True)]
    truth = [c.label for c in dm._layout.splits["val"][:4]]
    steps = int(batch["lengths"].min())
    perfect = _spell(ids, steps, task.blank + 1, task.blank)
    assert [task.text(d) for d in task.decode(perfect, None)] == truth
    assert [task.text(d) for d in task.decode(perfect, None, "beam")] == truth
    wrong = _spell([ids[1], *ids[1:]], steps, task.blank + 1, task.blank)  # row 0 says row 1
    metrics = task.build_metrics("test")
    task.update_metrics(metrics, wrong, {**batch, "lengths": torch.full((4,), steps)}, None)
    scores = metrics.compute()
    expected = CharErrorRate()([truth[1], *truth[1:]], truth)  # characters, not tokens
    torch.testing.assert_close(scores["cer"], expected)
    torch.testing.assert_close(scores["cer_beam"], expected)
    with pytest.raises(ConfigError, match=r"label_sequence.lexicon"):
        build_task({**MODEL, "lexicon": ["ab"]}, dm.spec)
    dm.hparams.predict_path = str(folder / "valid.csv")
    dm.setup("predict")
    frame = dm.format_predictions([{"tokens": batch["targets"]}])
    assert frame.transcript.tolist() == truth == frame.reference.tolist()


# -- features where the batch lands --------------------------------------------------------
AUGMENTED = {"gain_db": 6.0, "noise_prob": 0.5, "time_shift_ms": 20.0, "time_masks": 2,
             "time_mask_frames": 5, "freq_masks": 2, "freq_mask_bins": 4}


@pytest.mark.parametrize("augment", [{}, {"time_masks": 2, "freq_masks": 1}, AUGMENTED],
                         ids=["plain", "spec_augment", "waveform_and_spec_augment"])
def test_features_made_after_the_transfer_equal_the_loaders(folder, augment):
    made = {}
    for where in ("loader", "device"):
        dm = AudioDataModule(path=str(folder), augment=augment, features_on=where,
                             batch_size=4)
        dm.setup("fit")
        made[where] = (dm.fitted, [[dm.on_after_batch_transfer(batch, 0) for batch in loader]
                                   for loader in (dm.train_dataloader(), dm.val_dataloader())])
        if where == "device":
            assert "waves" in next(iter(dm.train_dataloader()))  # waveforms leave the loader
    assert made["loader"][0] == made["device"][0]
    loader_batches = [b for split in made["loader"][1] for b in split]
    device_batches = [b for split in made["device"][1] for b in split]
    assert len(loader_batches) == len(device_batches) == 5  # 4 training, 1 validation
    for ours, theirs in zip(loader_batches, device_batches, strict=True):
        assert set(ours) == set(theirs) == {"inputs", "lengths", "targets", "target_lengths"}
        assert torch.equal(ours["lengths"], theirs["lengths"])
        assert torch.equal(ours["targets"], theirs["targets"])
        torch.testing.assert_close(ours["inputs"], theirs["inputs"], atol=1e-4, rtol=1e-4)


def test_features_on_is_checked_and_auto_keeps_the_loader_on_the_cpu(folder, tmp_path):
    with pytest.raises(ConfigError, match=r"data.features_on"):
        AudioDataModule(path=str(folder), features_on="gpu")
    with pytest.raises(ConfigError, match=r"data.features_on"):
        AudioDataModule(path=str(folder), features_on="device", cache_dir=str(tmp_path / "c"))
    dm = AudioDataModule(path=str(folder), batch_size=4)  # auto, no trainer: the loader
    dm.setup("fit")
    assert "inputs" in dm.splits["val"].__getitems__([0])


# -- seqlstm-transcribe --------------------------------------------------------------------
@pytest.fixture(scope="module")
def bpe_checkpoint(tmp_path_factory):
    """A tiny unidirectional CTC model over BPE units, trained two steps through a Trainer
    with its features made after the batch transfer."""
    import lightning as L

    from seqlstm.cli.builders import data_record

    root = tmp_path_factory.mktemp("ctc")
    folder = manifest_folder(root / "m")
    torch.manual_seed(0)
    dm = AudioDataModule(path=str(folder), tokenizer="bpe", vocab_size=262, batch_size=4,
                         features_on="device")
    dm.setup("fit")
    task = build_task({**MODEL, "stack": 2}, dm.spec, data_record(dm))
    trainer = L.Trainer(accelerator="cpu", max_steps=2, logger=False, limit_val_batches=0,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.fit(task, datamodule=dm)
    path = root / "ctc.ckpt"
    trainer.save_checkpoint(path)
    return path, folder


def test_transcribe_prints_what_the_predictor_transcribes(bpe_checkpoint, compose_train):
    from seqlstm.cli.transcribe import transcribe_files
    from seqlstm.inference import Predictor

    ckpt, folder = bpe_checkpoint
    files = [str(folder / "test" / f"00{i}.wav") for i in range(2)]
    predictor = Predictor.from_checkpoint(ckpt)  # weights_only=True, tokenizer in spec.extra
    assert predictor.task.tokenizer.kind == "bpe"
    expected = [predictor.transcribe(read_audio(f, 16000)) for f in files]
    assert all(expected)  # the barely trained model says something in every file
    for extra in ([], ["chunk_ms=100"]):
        cfg = compose_train(f"ckpt_path={ckpt}", *positional_override("files", files), *extra,
                            config_name="transcribe")
        assert transcribe_files(cfg) == list(zip(files, expected, strict=True))
    beam = transcribe_files(compose_train(f"ckpt_path={ckpt}", f"files=[{files[0]}]",
                                          "decoder=beam", config_name="transcribe"))
    assert beam == [(files[0], predictor.transcribe(read_audio(files[0], 16000), "beam"))]
    with pytest.raises(ConfigError, match="files"):
        transcribe_files(compose_train(f"ckpt_path={ckpt}", config_name="transcribe"))
    with pytest.raises(DataError, match=r"gone.wav: cannot read the audio file"):
        transcribe_files(compose_train(f"ckpt_path={ckpt}", f"files=[{folder}/gone.wav]",
                                       config_name="transcribe"))


def test_positional_arguments_become_one_exactly_quoted_override(compose_train):
    odd = ["a b.wav", "it's.wav", "x,y[1].wav", "we${ird}.wav", "back\\slash\\"]
    argv = positional_override("files", [odd[0], "ckpt_path=c.ckpt", "--cfg", "job", *odd[1:]])
    assert argv[1:] == ["ckpt_path=c.ckpt", "--cfg", "job"]
    cfg = compose_train("ckpt_path=c.ckpt", argv[0], config_name="transcribe")
    assert list(cfg.files) == odd
    assert positional_override("files", ["ckpt_path=c", "--info", "config"]) == \
        ["ckpt_path=c", "--info", "config"]


@pytest.mark.slow
def test_the_transcribe_command_prints_a_line_per_file_and_exits_2_on_a_missing_one(
        bpe_checkpoint, tmp_path):
    from tests.conftest import run_cli

    ckpt, folder = bpe_checkpoint
    files = [str(folder / "test" / "000.wav"), str(folder / "test" / "001.wav")]
    result = run_cli("transcribe", *files, f"ckpt_path={ckpt}", cwd=tmp_path)
    lines = result.stdout.strip("\n").split("\n")
    assert [line.split("\t")[0] for line in lines] == files
    missing = run_cli("transcribe", files[0], str(tmp_path / "gone.wav"), f"ckpt_path={ckpt}",
                      cwd=tmp_path, check=False)
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'gone.wav'}: cannot read the audio file (No such file or "
        "directory)"]
    assert list(tmp_path.iterdir()) == []  # no run folder, no log file
