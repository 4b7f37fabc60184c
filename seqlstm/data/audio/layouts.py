"""Where the clips are: the Speech Commands folder layout and CSV/JSONL manifests.

* **Speech Commands**: one folder per word holding ``SPEAKER_nohash_N.wav`` clips,
  ``validation_list.txt`` and ``testing_list.txt`` naming the clips of the validation and test
  speakers (one relative path a line; every other clip trains), and an optional
  ``_background_noise_`` folder of long noise recordings (used for augmentation).
* **Manifest**: a ``.csv`` (header ``path,transcript[,speaker]``) or ``.jsonl`` (one object a
  line with those keys); paths are relative to the manifest's folder. A folder holding
  ``train``, ``valid`` (or ``val``) and ``test`` manifests gives the three splits.

Without split information (no lists, one manifest) the clips are *unsplit*: training carves
validation and test speakers out of them, evaluation scores them all.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqlstm.errors import DataError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif")
MANIFEST_SUFFIXES = (".csv", ".jsonl")
BACKGROUND = "_background_noise_"
LISTS = {"val": "validation_list.txt", "test": "testing_list.txt"}
SPLIT_NAMES = {"train": ("train",), "val": ("valid", "val", "validation", "dev"),
               "test": ("test",)}


@dataclass(frozen=True)
class Clip:
    """One utterance: its file, its label (word or transcript; None when unknown), speaker."""

    path: Path
    label: str | None
    speaker: str
    where: str
    """Where it was named, for error messages (``train.csv:row 4`` or the file itself)."""
    start: int = 0
    """First sample read (a segment of a longer file, e.g. silence cut from noise)."""
    stop: int | None = None
    """Sample after the last one read (None: the file's end)."""


@dataclass
class Layout:
    """The clips of a data path: ``splits`` (train/val/test) or ``unsplit``; noise files."""

    kind: str  # "commands" | "manifest" | "files"
    splits: dict[str, list[Clip]] | None
    unsplit: list[Clip] | None
    noise: list[Path]


def discover(path: str | Path, kind: str = "auto") -> Layout:
    """The layout at ``path``: a Speech Commands folder, a manifest file or a folder of
    manifests (``kind`` = ``auto``, ``commands`` or ``manifest``)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder of audio")
    if path.is_file():
        if path.suffix.lower() not in MANIFEST_SUFFIXES or kind == "commands":
            raise DataError(f"{path}: expected a manifest ({'/'.join(MANIFEST_SUFFIXES)}) or a "
                            "folder of audio")
        siblings = _split_manifests(path.parent) if path.stem in SPLIT_NAMES["train"] else None
        if siblings:
            return Layout("manifest", {k: read_manifest(p) for k, p in siblings.items()},
                          None, [])
        return Layout("manifest", None, read_manifest(path), [])
    manifests = _split_manifests(path)
    if manifests and kind != "commands":
        return Layout("manifest", {k: read_manifest(p) for k, p in manifests.items()}, None, [])
    if kind == "manifest":
        raise DataError(f"{path}: expected train, valid and test manifests "
                        f"({'/'.join(MANIFEST_SUFFIXES)}) in this folder")
    return commands_layout(path)


def _split_manifests(folder: Path) -> dict[str, Path] | None:
    found: dict[str, Path] = {}
    for split, stems in SPLIT_NAMES.items():
        for stem in stems:
            for suffix in MANIFEST_SUFFIXES:
                if (folder / f"{stem}{suffix}").is_file() and split not in found:
                    found[split] = folder / f"{stem}{suffix}"
    return found if len(found) == 3 else None


def read_manifest(path: Path) -> list[Clip]:
    """The rows of a CSV or JSONL manifest; a row naming a missing file is an error."""
    rows = _manifest_rows(path)
    clips = []
    for where, row in rows:
        if not row.get("path"):
            raise DataError(f"{where}: the 'path' field is empty")
        audio = (path.parent / str(row["path"])).resolve()
        if not audio.is_file():
            raise DataError(f"{where}: the audio file {row['path']} does not exist "
                            f"(looked for {audio})")
        transcript = row.get("transcript")
        clips.append(Clip(audio, None if transcript is None else str(transcript),
                          str(row.get("speaker") or audio.stem), where))
    if not clips:
        raise DataError(f"{path}: the manifest has no rows")
    return clips


def _manifest_rows(path: Path) -> list[tuple[str, dict]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read the manifest ({err})") from None
    if path.suffix.lower() == ".jsonl":
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{number}:{err.colno}: not a JSON object "
                                f"({err.msg})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{number}: expected a JSON object with 'path'")
            rows.append((f"{path}:{number}", row))
        return rows
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or "path" not in reader.fieldnames:
        raise DataError(f"{path}:1: the header must name a 'path' column (and 'transcript', "
                        f"optionally 'speaker'); got {reader.fieldnames}")
    return [(f"{path}:row {number}", row) for number, row in enumerate(reader, start=2)]


def commands_layout(folder: Path) -> Layout:
    """A Speech Commands folder (word folders and the two lists), or a folder of audio files
    (no labels)."""
    words = sorted(p for p in folder.iterdir() if p.is_dir() and p.name != BACKGROUND)
    noise = sorted(p for p in (folder / BACKGROUND).glob("*") if _is_audio(p)) \
        if (folder / BACKGROUND).is_dir() else []
    clips = [Clip(p, word.name, p.name.split("_nohash_")[0], str(p))
             for word in words for p in sorted(word.iterdir()) if _is_audio(p)]
    if not clips:
        loose = [Clip(p, None, p.stem, str(p)) for p in sorted(folder.iterdir()) if _is_audio(p)]
        if not loose:
            raise DataError(f"{folder}: no audio files ({'/'.join(AUDIO_SUFFIXES)}) in it or "
                            "in its word folders")
        return Layout("files", None, loose, noise)
    if not all((folder / name).is_file() for name in LISTS.values()):
        return Layout("commands", None, clips, noise)
    by_name = {p.path.relative_to(folder).as_posix(): p for p in clips}
    held: dict[str, list[Clip]] = {}
    for split, name in LISTS.items():
        held[split] = []
        lines = (folder / name).read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if line.strip():
                if line.strip() not in by_name:
                    raise DataError(f"{folder / name}:{number}: {line.strip()} is not an audio "
                                    f"clip in {folder}")
                held[split].append(by_name.pop(line.strip()))
    return Layout("commands", {"train": list(by_name.values()), **held}, None, noise)


def _is_audio(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES


def speaker_split(clips: list[Clip], fractions: tuple[float, float], seed: int
                  ) -> dict[str, list[Clip]]:
    """Train/val/test with disjoint speakers: a seeded shuffle of the speakers, cut so each
    held-out split gets about its share of the clips."""
    speakers = sorted({c.speaker for c in clips})
    order = np.random.default_rng(seed).permutation(len(speakers))
    counts: dict[str, int] = {}
    for clip in clips:
        counts[clip.speaker] = counts.get(clip.speaker, 0) + 1
    assigned, taken = {}, 0.0
    bounds = (fractions[0], fractions[0] + fractions[1])
    for index in order:
        speaker = speakers[index]
        share = taken / len(clips)
        assigned[speaker] = "val" if share < bounds[0] else "test" if share < bounds[1] \
            else "train"
        taken += counts[speaker]
    parts: dict[str, list[Clip]] = {"train": [], "val": [], "test": []}
    for clip in clips:
        parts[assigned[clip.speaker]].append(clip)
    for name in ("train", "val"):
        if not parts[name]:
            raise DataError(f"{clips[0].where}: {len({c.speaker for c in clips})} speakers are "
                            f"too few to hold out validation and test speakers")
    return parts
