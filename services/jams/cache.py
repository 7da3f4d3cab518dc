"""Rendered jam segments on disk, so a restart or a second play renders only new prompts.

A segment is fully determined by (prompt, seed, bpm, key, bars, metre, backend): the
file name is a hash of exactly that, under DATA_DIR/jams/<jam>/. Files are float WAV
(lossless, carries its sample rate) and written atomically, so a worker killed mid-write
never leaves a half file that a later play would trust.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from scipy.io import wavfile

from services.audio.types import Audio

_VERSION = 2  # bump when the way segments are rendered changes, so old files are not reused


def segment_key(
    *, prompt: str, seed: int, bpm: float, key: str, bars: int, beats_per_bar: int, backend: str
) -> str:
    """A stable name for one segment's audio."""
    identity = json.dumps(
        [_VERSION, prompt, seed, round(float(bpm), 6), key, bars, beats_per_bar, backend], ensure_ascii=True
    )
    return hashlib.sha256(identity.encode("ascii")).hexdigest()[:32]


def jam_dir(data_dir: Path, jam_id: str) -> Path:
    safe = "".join(ch for ch in jam_id if ch.isalnum() or ch in "-_") or "jam"
    return data_dir / "jams" / safe


def load_segment(path: Path) -> Audio | None:
    """The cached segment, or None if it is missing or unreadable (then it is simply rendered again)."""
    try:
        rate, data = wavfile.read(path)
    except (FileNotFoundError, ValueError, OSError):
        return None
    samples = np.asarray(data, dtype=np.float32)
    samples = samples[np.newaxis, :] if samples.ndim == 1 else samples.T
    if samples.size == 0 or not np.isfinite(samples).all():
        return None
    return Audio(np.ascontiguousarray(samples), int(rate))


def _note_path(segment: Path) -> Path:
    return segment.with_suffix(".note.json")


def load_note(segment: Path) -> str | None:
    """What was done to the cached segment at `segment` to put it on the grid (None: nothing, or no file)."""
    try:
        value = json.loads(_note_path(segment).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError, OSError):
        return None
    return value if isinstance(value, str) and value else None


def save_note(segment: Path, note: str | None) -> None:
    """Keep `note` beside its segment (so a replay says it too); no note, no file."""
    path = _note_path(segment)
    if note is None:
        path.unlink(missing_ok=True)
        return
    _write_atomically(path, json.dumps(note, ensure_ascii=True).encode("ascii"))


def save_segment(path: Path, audio: Audio) -> None:
    """Write atomically, so a worker killed mid-write never leaves a half file a later play would trust."""
    buffer = io.BytesIO()
    wavfile.write(buffer, audio.sample_rate, np.ascontiguousarray(audio.samples.T))
    _write_atomically(path, buffer.getvalue())


def _write_atomically(path: Path, data: bytes) -> None:
    """A temporary file in the same folder, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".part-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
