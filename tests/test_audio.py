"""Audio data: decoding, resampling, features against librosa, layouts, augmentation, the data
module's splits, normalisation and cache, and the one-line errors for bad input."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

soundfile = pytest.importorskip("soundfile", reason="audio tests need soundfile (seqlstm[audio])")

from seqlstm.data.audio.augment import AugmentConfig, augment_waveforms, spec_augment  # noqa: E402
from seqlstm.data.audio.decode import read_audio, resample  # noqa: E402
from seqlstm.data.audio.features import (  # noqa: E402
    FeatureConfig,
    FeatureExtractor,
    dct_matrix,
    mel_filterbank,
)
from seqlstm.data.audio.layouts import discover, speaker_split  # noqa: E402
from seqlstm.data.audio.module import AudioDataModule  # noqa: E402
from seqlstm.errors import ConfigError, DataError  # noqa: E402
from tests.helpers.audio import RATE, commands_folder, manifest_folder, write  # noqa: E402


# -- features against librosa -------------------------------------------------------------
@pytest.fixture(scope="module")
def librosa():
    return pytest.importorskip("librosa", reason="librosa is the test-time reference for the "
                               "mel filterbank and MFCC (pip install librosa)")


def test_mel_filterbank_matches_librosa(librosa):
    for sr, n_fft, n_mels, fmin, fmax in [(16000, 512, 40, 20.0, None), (8000, 256, 23, 0.0,
                                                                         3800.0)]:
        ours = mel_filterbank(sr, n_fft, n_mels, fmin, fmax).numpy()
        ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
        np.testing.assert_allclose(ours, ref, atol=1e-7)


def test_dct_matches_scipy_orthonormal_dct2():
    from scipy.fft import dct

    x = np.random.default_rng(0).standard_normal((4, 40))
    np.testing.assert_allclose(x @ dct_matrix(40, 13).numpy(),
                               dct(x, type=2, norm="ortho")[:, :13], atol=1e-5)


@pytest.mark.slow  # librosa's first feature call JIT-compiles (numba) for seconds
@pytest.mark.parametrize("kind", ["logmel", "mfcc"])
def test_features_match_librosa(librosa, kind):
    y = (0.1 * np.random.default_rng(0).standard_normal(8000)).astype(np.float32)
    config = FeatureConfig(kind=kind)
    ours = FeatureExtractor(config)(torch.from_numpy(y)[None])[0].numpy()  # (T, F)
    mel = librosa.feature.melspectrogram(y=y, sr=RATE, n_fft=512, hop_length=160,
                                         win_length=400, n_mels=40, fmin=20.0, power=2.0)
    ref = librosa.power_to_db(mel, top_db=None)
    if kind == "mfcc":
        ref = librosa.feature.mfcc(S=ref, n_mfcc=13)
    assert ours.shape == ref.T.shape == (config.frames(8000), config.size)
    np.testing.assert_allclose(ours, ref.T, atol=2e-3 * np.abs(ref).max())


def test_feature_config_refuses_bad_values():
    with pytest.raises(ConfigError, match=r"data.features.kind"):
        FeatureConfig(kind="spectrogram")
    with pytest.raises(ConfigError, match=r"data.features.n_mfcc"):
        FeatureConfig(kind="mfcc", n_mfcc=50)


# -- decoding and resampling --------------------------------------------------------------
def test_resample_keeps_a_tone_and_the_duration():
    t = np.arange(8000) / 8000
    out = resample(np.sin(2 * np.pi * 440 * t).astype(np.float32), 8000, 16000)
    assert out.shape == (16000,)
    ref = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    assert np.abs(out[200:-200] - ref[200:-200]).max() < 0.01
    assert resample(out, 16000, 16000) is out


def test_read_audio_mixes_to_mono_and_resamples(tmp_path):
    stereo = np.stack([np.full(4410, 0.2), np.full(4410, 0.4)], axis=1)
    path = write(tmp_path / "a.flac", stereo, rate=44100)
    out = read_audio(path, 16000)
    assert out.shape == (1600,) and out.dtype == np.float32
    assert abs(float(out[400:1200].mean()) - 0.3) < 1e-3


def test_bad_audio_files_each_give_one_line_naming_the_file(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.ogg"
    garbage.write_bytes(b"this is not audio at all")
    whole = write(tmp_path / "whole.wav", np.zeros(16000))
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[:9000])
    slow = write(tmp_path / "slow.wav", np.zeros(100), rate=500)
    cases = {empty: "empty", garbage: "unreadable", cut: "truncated",
             slow: "500 Hz is outside what the resampler accepts",
             tmp_path / "absent.wav": "cannot read"}
    for path, reason in cases.items():
        with pytest.raises(DataError, match=reason) as info:
            read_audio(path, 16000)
        assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)
    with pytest.raises(DataError, match="refuses 16000 Hz -> 16001 Hz"):
        resample(np.zeros(10, np.float32), 16000, 16001)


def test_missing_soundfile_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "soundfile", None)
    with pytest.raises(DataError, match=r"pip install 'seqlstm\[audio\]'"):
        AudioDataModule(path=str(tmp_path))


# -- layouts ------------------------------------------------------------------------------
def test_speech_commands_lists_give_the_splits(tmp_path):
    layout = discover(commands_folder(tmp_path / "cmd", noise=True))
    assert layout.kind == "commands" and layout.unsplit is None
    assert {k: len(v) for k, v in layout.splits.items()} == {"train": 16, "val": 4, "test": 4}
    assert {c.speaker for c in layout.splits["test"]} == {"00000005"}
    assert [p.name for p in layout.noise] == ["white.wav"]
    assert {c.label for c in layout.splits["train"]} == {"up", "down"}


def test_a_list_naming_a_missing_clip_is_an_error(tmp_path):
    folder = commands_folder(tmp_path / "cmd")
    (folder / "testing_list.txt").write_text("up/nobody_nohash_0.wav\n")
    with pytest.raises(DataError, match=r"testing_list.txt:1: up/nobody_nohash_0.wav is not"):
        discover(folder)


def test_without_lists_training_holds_out_whole_speakers(tmp_path):
    layout = discover(commands_folder(tmp_path / "cmd", lists=False))
    parts = speaker_split(layout.unsplit, (0.2, 0.2), seed=0)
    speakers = {name: {c.speaker for c in clips} for name, clips in parts.items()}
    assert all(speakers[a].isdisjoint(speakers[b]) for a in speakers for b in speakers if a < b)
    assert sum(map(len, parts.values())) == 24 and parts["val"] and parts["test"]


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_manifest_folders_and_rows(tmp_path, suffix):
    layout = discover(manifest_folder(tmp_path / "m", suffix=suffix))
    assert layout.kind == "manifest"
    assert {k: len(v) for k, v in layout.splits.items()} == {"train": 16, "val": 4, "test": 4}
    clip = layout.splits["train"][0]
    assert clip.path.is_file() and clip.label in ("a", "b", "ab", "ba", "aab", "abb", "bab",
                                                  "aba")


def test_a_manifest_row_whose_file_is_missing_names_the_row(tmp_path):
    folder = manifest_folder(tmp_path / "m")
    lines = (folder / "train.csv").read_text().splitlines()
    lines[3] = "train/gone.wav,ab,x"
    (folder / "train.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"train.csv:row 4: the audio file train/gone.wav does "
                                        "not exist"):
        discover(folder)


# -- the data module ----------------------------------------------------------------------
def test_commands_module_fits_normalisation_on_train_only(tmp_path):
    dm = AudioDataModule(path=str(commands_folder(tmp_path / "cmd")), batch_size=4)
    dm.setup("fit")
    spec = dm.spec
    assert spec.target_kind == "class" and spec.labels == ["down", "up"]
    assert spec.input_size == 40 and spec.extra["features"]["n_mels"] == 40
    assert spec.extra["class_counts"] == [8, 8]
    train = dm.splits["train"].data.values  # normalised frames of the training split
    np.testing.assert_allclose(train.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(train.std(0), 1, atol=1e-3)
    assert abs(dm.splits["test"].data.values.mean(0)).max() > 1e-3  # not refitted on test
    batch = next(iter(dm.train_dataloader()))
    assert batch["inputs"].shape == (4, 26, 40) and batch["targets"].shape == (4,)
    assert batch["lengths"].tolist() == [26] * 4


def test_manifest_module_gives_label_sequences_and_checks_units(tmp_path):
    folder = manifest_folder(tmp_path / "m")
    dm = AudioDataModule(path=str(folder), batch_size=4)
    dm.setup("fit")
    assert dm.spec.target_kind == "label_sequence" and dm.spec.labels == ["a", "b"]
    batch = dm.splits["val"].__getitems__([0, 1, 2])
    assert batch["targets"].shape[0] == 3 and batch["target_lengths"].tolist() == \
        [(batch["targets"][i] >= 0).sum().item() for i in range(3)]
    lines = (folder / "test.csv").read_text().splitlines()
    lines[2] = ",".join([lines[2].split(",")[0], "ac!", "s"])
    (folder / "test.csv").write_text("\n".join(lines) + "\n")
    dm = AudioDataModule(path=str(folder), fitted=dm.fitted)
    with pytest.raises(DataError, match=r"test.csv:row 3: transcript 'ac!' has symbols '!c' "
                                        "outside the output units 'ab'"):
        dm.setup("test")


def test_augmentation_touches_the_training_split_only(tmp_path):
    augment = {"gain_db": 6.0, "noise_prob": 1.0, "time_masks": 1, "freq_masks": 1}
    dm = AudioDataModule(path=str(commands_folder(tmp_path / "cmd", noise=True)),
                         augment=augment, batch_size=4)
    dm.setup("fit")
    train, val = dm.splits["train"], dm.splits["val"]
    assert train.features is not None and val.augment is None
    first, again = train.__getitems__([0, 1]), train.__getitems__([0, 1])
    assert not torch.equal(first["inputs"], again["inputs"])  # fresh noise and masks each time
    assert torch.equal(val.__getitems__([0, 1])["inputs"], val.__getitems__([0, 1])["inputs"])
    plain = AudioDataModule(path=str(tmp_path / "cmd"), batch_size=4)
    plain.setup("fit")
    assert plain.fitted["mean"] == dm.fitted["mean"]  # statistics of the clean training clips


def test_waveform_augmentation_and_spec_augment_respect_lengths():
    gen = torch.Generator().manual_seed(0)
    waves = torch.ones(2, 100)
    lengths = torch.tensor([100, 60])
    config = AugmentConfig(gain_db=6.0, noise_prob=1.0, snr_db=(10.0, 10.0), time_shift_ms=1.0)
    out = augment_waveforms(waves, lengths, config, [], 16000, gen)
    assert torch.all(out[1, 60:] == 0) and not torch.equal(out[0], waves[0])
    masked = spec_augment(torch.ones(2, 50, 10), torch.tensor([50, 30]),
                          AugmentConfig(time_masks=1, time_mask_frames=5, freq_masks=1,
                                        freq_mask_bins=3), gen)
    assert masked.shape == (2, 50, 10) and (masked == 0).any()
    with pytest.raises(ConfigError, match=r"data.augment"):
        AugmentConfig.from_config({"pitch": 2})


def test_feature_cache_is_reused(tmp_path):
    folder = commands_folder(tmp_path / "cmd")
    cache = tmp_path / "cache"
    first = AudioDataModule(path=str(folder), cache_dir=str(cache))
    first.setup("fit")
    files = sorted(cache.glob("features-*.npz"))
    assert len(files) == 3  # train, val, test
    second = AudioDataModule(path=str(folder), cache_dir=str(cache))
    second.setup("fit")
    assert sorted(cache.glob("features-*.npz")) == files
    np.testing.assert_array_equal(first.splits["test"].data.values,
                                  second.splits["test"].data.values)


def test_keyword_classes_unknown_and_silence(tmp_path):
    folder = commands_folder(tmp_path / "cmd", noise=True)
    dm = AudioDataModule(path=str(folder), words=["up"], unknown_fraction=0.5,
                         silence_fraction=0.25)
    dm.setup("fit")
    assert dm.spec.labels == ["up", "_unknown_", "_silence_"]
    counts = dict(zip(dm.spec.labels, dm.spec.extra["class_counts"], strict=True))
    assert counts == {"up": 8, "_unknown_": 4, "_silence_": 3}
    with pytest.raises(ConfigError, match=r"data.silence_fraction"):
        AudioDataModule(path=str(commands_folder(tmp_path / "plain")),
                        silence_fraction=0.1).setup("fit")


def test_evaluation_scores_a_folder_without_lists_whole(tmp_path):
    dm = AudioDataModule(path=str(commands_folder(tmp_path / "cmd")))
    dm.setup("fit")
    other = AudioDataModule(path=str(commands_folder(tmp_path / "other", lists=False)),
                            fitted=dm.fitted)
    other.setup("test")
    assert set(other.splits) == {"test"} and len(other.splits["test"]) == 24


def test_speech_commands_download_unpacks_a_local_copy(tmp_path):
    import tarfile

    from seqlstm.data.audio.corpus import speech_commands

    source = commands_folder(tmp_path / "source", noise=True)
    archive = tmp_path / "mirror.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(source.rglob("*")):
            tar.add(path, arcname=path.relative_to(source).as_posix(), recursive=False)
    folder = speech_commands(tmp_path / "data", url=archive.as_uri())
    assert folder.name == "speech_commands_v0.01"
    layout = discover(folder)
    assert len(layout.splits["test"]) == 4 and len(layout.noise) == 1
    assert speech_commands(tmp_path / "data", url="file:///nowhere") == folder  # once
    with pytest.raises(DataError, match="version 3"):
        speech_commands(tmp_path / "data", version=3)


SPEECH_RUN = ["data=audio", "data.batch_size=4", "model.encoder.hidden_size=8", "logger=[]",
              "test=false", "trainer.max_epochs=1", "trainer.enable_progress_bar=false",
              "callbacks=none"]


def _truncate(folder):
    clip = folder / "train" / "001.wav"
    clip.write_bytes(clip.read_bytes()[:2000])
    return "train/001.wav: truncated audio"


def _empty(folder):
    (folder / "train" / "002.wav").write_bytes(b"")
    return "train/002.wav: the audio file is empty"


def _missing(folder):
    (folder / "train" / "003.wav").unlink()
    return "train.csv:row 5: the audio file train/003.wav does not exist"


def _symbols(folder):
    text = (folder / "valid.csv").read_text().replace(",bab,", ",b-b,", 1)
    (folder / "valid.csv").write_text(text)
    return "valid.csv:row 3: transcript 'b-b' has symbols '-' outside the output units 'ab'"


@pytest.mark.parametrize("spoil", [_truncate, _empty, _missing, _symbols])
def test_bad_audio_stops_training_with_one_line_and_no_outputs(spoil, compose_train, tmp_path):
    import re

    from seqlstm.cli.train import train

    folder = manifest_folder(tmp_path / "m")
    message = spoil(folder)
    cfg = compose_train(*SPEECH_RUN, f"data.path={folder}")
    with pytest.raises(DataError) as error:
        train(cfg)
    assert re.search(message, str(error.value)) and "\n" not in str(error.value)
    assert not list(tmp_path.rglob("*.ckpt"))


@pytest.mark.slow
def test_the_cli_prints_one_error_line_naming_the_file(tmp_path):
    from tests.conftest import run_cli

    folder = manifest_folder(tmp_path / "m")
    _empty(folder)
    result = run_cli("train", *SPEECH_RUN, f"data.path={folder}", cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {folder}/train/002.wav:")
