"""Audio data: keyword spotting (``class`` targets) and transcription (``label_sequence``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from seqlstm.data.audio.augment import AugmentConfig
from seqlstm.data.audio.batches import AudioBatches, Ragged, finish_on_device
from seqlstm.data.audio.cache import clip_features, decode_clips
from seqlstm.data.audio.decode import read_audio, soundfile_module
from seqlstm.data.audio.features import FeatureConfig, FeatureExtractor, NormalisedFeatures
from seqlstm.data.audio.keywords import class_labels, select_words, silence_clips
from seqlstm.data.audio.layouts import Clip, Layout, discover, speaker_split
from seqlstm.data.audio.units import TranscriptUnits
from seqlstm.data.sequences.batches import LengthBuckets, keep_batch
from seqlstm.data.sequences.in_memory import InMemoryDataModule
from seqlstm.errors import ConfigError, DataError, check_holdout
from seqlstm.spec import IGNORE_INDEX, DataSpec

TARGETS = ("auto", "class", "label_sequence")
LAYOUTS = ("auto", "commands", "manifest")
FEATURES_ON = ("auto", "loader", "device")


class AudioDataModule(InMemoryDataModule):
    """Clips of speech from a Speech Commands folder or a manifest (see
    :mod:`seqlstm.data.audio.layouts`), as log-mel or MFCC frames.

    Features are standardised per feature with statistics of the (clean) training split;
    those, the feature settings and the labels or output units are the fitted state
    (``spec.extra``) a checkpoint carries. Training batches are drawn by length buckets and
    get the configured augmentation; the other splits never do.

    Args:
        path: a Speech Commands folder, a manifest, or a folder of train/valid/test manifests.
        layout: ``auto``, ``commands`` or ``manifest``.
        target: ``class`` (one word per clip; the folder name, or the manifest transcript),
            ``label_sequence`` (the transcript's characters, for CTC) or ``auto`` (class for
            the commands layout, label_sequence for manifests).
        features: :class:`FeatureConfig` fields.
        normalize: standardise features with training statistics.
        augment: :class:`AugmentConfig` fields (training split only).
        words: keyword spotting: the words kept as classes; other words become ``_unknown_``.
        unknown_fraction: ``_unknown_`` clips kept per split, as a share of the known clips.
        silence_fraction: ``_silence_`` clips added per split (cut from background noise).
        tokenizer: output units for ``label_sequence``: ``char``, ``word``, ``bpe``,
            ``unigram``, ``wordpiece`` (trained on the training transcripts) or a
            ``tokenizer.json`` path (see :mod:`seqlstm.data.audio.units`).
        units: ``char`` units: a string of characters (None: the training transcripts').
        vocab_size: the most units a trained tokenizer keeps.
        features_on: where features are made: ``loader`` (once per split on the CPU, per
            batch for waveform augmentation; cached with ``cache_dir``), ``device`` (the
            loader collates waveforms; frames and SpecAugment are made in
            ``on_after_batch_transfer``, on the GPU when the batch is there) or ``auto``
            (``device`` when the trainer's device is not the CPU and there is no cache).
        val_fraction, test_fraction: speaker shares held out when the data has no splits.
        seed: seeds the held-out speakers, the unknown/silence picks and the augmentation.
        cache_dir: keep computed features here (None: compute them on every setup).
        fitted: fitted state from a checkpoint's ``spec.extra`` (None: fit on ``path``).
        predict_path: audio to label or transcribe (a folder or a manifest; every clip).
    """

    def __init__(self, path: str | None = None, layout: str = "auto", target: str = "auto",
                 features: Mapping[str, Any] | None = None, normalize: bool = True,
                 augment: Mapping[str, Any] | None = None, words: Sequence[str] | None = None,
                 unknown_fraction: float = 0.1, silence_fraction: float = 0.0,
                 tokenizer: str = "char", units: str | None = None, vocab_size: int = 300,
                 val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0,
                 batch_size: int = 32, cache_dir: str | None = None,
                 features_on: str = "auto", fitted: Mapping[str, Any] | None = None,
                 predict_path: str | None = None, num_workers: int = 0) -> None:
        super().__init__(batch_size, num_workers)
        self.save_hyperparameters()
        soundfile_module()  # one line naming the extra when soundfile is missing
        if target not in TARGETS:
            raise ConfigError("data.target", f"one of {list(TARGETS)}", target)
        if layout not in LAYOUTS:
            raise ConfigError("data.layout", f"one of {list(LAYOUTS)}", layout)
        if features_on not in FEATURES_ON:
            raise ConfigError("data.features_on", f"one of {list(FEATURES_ON)}", features_on)
        if features_on == "device" and cache_dir is not None:
            raise ConfigError("data.features_on", "loader or auto with data.cache_dir (the "
                              "cache holds the loader's features)", features_on)
        for key, value in (("unknown_fraction", unknown_fraction),
                           ("silence_fraction", silence_fraction)):
            if not 0 <= value <= 1:
                raise ConfigError(f"data.{key}", "a number in [0, 1]", value)
        check_holdout(val_fraction, test_fraction)
        try:
            self.feature_config = FeatureConfig(**dict(features or {}))
        except TypeError:
            raise ConfigError("data.features", f"only the keys {sorted(FeatureConfig().as_dict())}",
                              sorted(features or {})) from None
        self.augment = AugmentConfig.from_config(dict(augment or {}))
        self.extractor = FeatureExtractor(self.feature_config)
        self.words = list(words) if words is not None else None
        self.fitted: dict[str, Any] | None = dict(fitted) if fitted else None
        self.units: TranscriptUnits | None = None
        self._on_device: NormalisedFeatures | None = None
        self._layout: Layout | None = None

    # -- setup ------------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if stage == "predict":
            if self.fitted is None:
                self._setup_splits("fit")
            self._setup_predict()
            return
        self._setup_splits(stage or "fit")

    def _setup_splits(self, stage: str) -> None:
        if self.hparams.path is None:
            raise ConfigError("data.path", "a Speech Commands folder or a manifest", None)
        layout = self._layout = self._layout or discover(self.hparams.path, self.hparams.layout)
        training = self.fitted is None
        if layout.splits is not None:
            parts = dict(layout.splits)
        elif training:
            fractions = (self.hparams.val_fraction, self.hparams.test_fraction)
            parts = speaker_split(layout.unsplit, fractions, self.hparams.seed)
        else:  # evaluation on audio without split information: score every clip
            parts = {"val": layout.unsplit, "test": layout.unsplit}
        wanted = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}.get(
            stage, ("train", "val", "test"))
        if training:
            wanted = tuple(dict.fromkeys(("train", *wanted, "val", "test")))
        parts = {name: self._class_clips(name, parts[name], layout) for name in wanted
                 if parts.get(name)}
        if training:
            self.fitted = self._fit(parts["train"], layout)
        for name, clips in parts.items():
            if name not in self.splits:
                self.splits[name] = self._encode(clips, train=name == "train")

    def _class_clips(self, name: str, clips: list[Clip], layout: Layout) -> list[Clip]:
        """The clips of split ``name`` with the keyword class set applied (class targets)."""
        if self.target_kind(layout) != "class":
            return clips
        rng = np.random.default_rng([self.hparams.seed, ("train", "val", "test").index(name)])
        clips = select_words(clips, self.words, self.hparams.unknown_fraction, rng)
        count = round(self.hparams.silence_fraction * len(clips))
        if count:
            info = {p: _frames(p) for p in layout.noise}
            clips = clips + silence_clips(layout.noise, count, info, rng,
                                          self.hparams.silence_fraction)
        return clips

    def target_kind(self, layout: Layout | None = None) -> str:
        if self.fitted is not None:
            return self.fitted["target"]
        if self.hparams.target != "auto":
            return self.hparams.target
        kind = (layout or self._layout).kind
        return "class" if kind == "commands" else "label_sequence"

    def _fit(self, train: list[Clip], layout: Layout) -> dict[str, Any]:
        """Labels or units, class counts and per-feature statistics of the training split."""
        kind = self.target_kind(layout)
        units: dict[str, Any] = {}
        if kind == "class":
            if self.hparams.tokenizer != "char":
                raise ConfigError("data.tokenizer", "char for class targets (subword units "
                                  "are for transcription)", self.hparams.tokenizer)
            units["labels"] = class_labels(train, self.words, self.hparams.silence_fraction > 0)
        else:
            self.units = TranscriptUnits.fit(self.hparams.tokenizer,
                                             [c.label or "" for c in train], self.hparams.units,
                                             self.hparams.vocab_size)
            units = self.units.as_extra()
        frames = clip_features(train, self.extractor, self.hparams.cache_dir).values
        width = self.feature_config.size
        mean = frames.mean(0, dtype=np.float64) if self.hparams.normalize else np.zeros(width)
        std = frames.std(0, dtype=np.float64) if self.hparams.normalize else np.ones(width)
        std[std == 0] = 1.0
        counts = Counter(c.label for c in train) if kind == "class" else Counter()
        return {"target": kind, **units, "class_counts": [counts[x] for x in units["labels"]],
                "mean": mean.tolist(), "std": std.tolist(),
                "features": self.feature_config.as_dict(), "layout": layout.kind}

    def _encode(self, clips: list[Clip], train: bool = False,
                require_labels: bool = True) -> AudioBatches:
        """The batches of ``clips``: normalised frames, or waveforms (features made per batch:
        training with waveform augmentation, or ``features_on=device``); targets checked
        against the fitted labels or units."""
        features = NormalisedFeatures(self.feature_config, self.fitted["mean"],
                                      self.fitted["std"])
        targets = self._targets(clips, require_labels)
        augment = self.augment if train and self.augment.active else None
        seed, defer = self.hparams.seed, self._features_on_device()
        if defer or (augment is not None and augment.waveform):
            noise = []
            if augment is not None and augment.noise_prob > 0 and self._layout is not None:
                rate = self.feature_config.sample_rate
                noise = [torch.from_numpy(read_audio(p, rate)) for p in self._layout.noise]
            return AudioBatches(decode_clips(clips, self.feature_config.sample_rate), targets,
                                features, augment, noise, seed, defer=defer)
        frames = clip_features(clips, self.extractor, self.hparams.cache_dir)
        mean, std = features.mean.numpy(), features.std.numpy()
        frames = Ragged(((frames.values - mean) / std).astype(np.float32), frames.offsets)
        return AudioBatches(frames, targets, augment=augment, seed=seed)

    def _features_on_device(self) -> bool:
        """Whether batches carry waveforms whose features are made where they land."""
        choice = self.hparams.features_on
        if choice != "auto":
            return choice == "device"
        trainer = getattr(self, "trainer", None)
        return (trainer is not None and trainer.strategy.root_device.type != "cpu"
                and self.hparams.cache_dir is None)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Make the features of a deferred batch on its device (``features_on=device``)."""
        if not isinstance(batch, dict) or "waves" not in batch:
            return batch
        device = batch["waves"].device
        if self._on_device is None or self._on_device.mean.device != device:
            self._on_device = NormalisedFeatures(self.feature_config, self.fitted["mean"],
                                                 self.fitted["std"]).to(device)
        return finish_on_device(batch, self._on_device)

    def _targets(self, clips: list[Clip], require: bool) -> np.ndarray | list[np.ndarray] | None:
        if any(c.label is None for c in clips):
            if require:
                missing = next(c for c in clips if c.label is None)
                raise DataError(f"{missing.where}: no label or transcript for this clip")
            return None
        labels = self.fitted["labels"]
        if self.fitted["target"] != "class":
            self.units = self.units or TranscriptUnits.from_fitted(self.fitted)
            return self.units.encode(clips)
        ids = {label: i for i, label in enumerate(labels)}
        unknown = next((c for c in clips if c.label not in ids), None)
        if unknown is not None:
            raise DataError(f"{unknown.where}: label {unknown.label!r} is not among the "
                            f"trained classes {labels}")
        return np.array([ids[c.label] for c in clips], dtype=np.int64)

    def _setup_predict(self) -> None:
        if self.hparams.predict_path is None:
            raise ConfigError("data.predict_path", "a folder or manifest of audio", None)
        layout = discover(self.hparams.predict_path, self.hparams.layout)
        clips = layout.unsplit or [c for part in layout.splits.values() for c in part]
        self.splits["predict"] = self._encode(clips, require_labels=False)
        root = Path(self.hparams.predict_path)
        root = root if root.is_dir() else root.parent
        self.predict_ids = [_relative(c.path, root) for c in clips]
        labelled = all(c.label is not None for c in clips)
        self.predict_labels = [c.label for c in clips] if labelled else None

    # -- loaders, spec, predictions ---------------------------------------------------------
    def train_dataloader(self) -> DataLoader:
        split = self.splits["train"]
        sampler = LengthBuckets(split.lengths, self.batch_size, seed=self.hparams.seed)
        return DataLoader(split, batch_sampler=sampler, collate_fn=keep_batch,
                          num_workers=self.num_workers)

    @property
    def spec(self) -> DataSpec:
        if self.fitted is None:
            raise RuntimeError("call setup() before reading spec")
        return DataSpec(input_kind="real", target_kind=self.fitted["target"],
                        input_size=len(self.fitted["mean"]),
                        output_size=len(self.fitted["labels"]), variable_length=True,
                        labels=list(self.fitted["labels"]), extra=dict(self.fitted))

    def format_predictions(self, outputs: list[dict[str, torch.Tensor]]) -> Any:
        """Labels with probabilities (``class``), or one transcript per clip (``id``,
        ``transcript`` and ``reference`` when the manifest had one)."""
        if self.spec.target_kind != "label_sequence":
            return super().format_predictions(outputs)
        import pandas as pd

        self.units = self.units or TranscriptUnits.from_fitted(self.fitted)
        texts = [self.units.decode(row[row != IGNORE_INDEX].tolist())
                 for out in outputs for row in out["tokens"].cpu()]
        if len(texts) != len(self.predict_ids):
            raise DataError(f"format_predictions: got {len(texts)} transcripts for "
                            f"{len(self.predict_ids)} clips")
        table = pd.DataFrame({"id": self.predict_ids, "transcript": texts})
        if self.predict_labels is not None:
            table["reference"] = self.predict_labels
        return table


def _frames(path: Path) -> tuple[int, int]:
    info = soundfile_module().info(str(path))
    return info.samplerate, info.frames


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
