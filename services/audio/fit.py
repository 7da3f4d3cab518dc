"""Fit an MP3 into an upload limit: lower the bitrate first, shorten (with a fade-out and a note) last.

A failed upload is the worst outcome for a user who waited for their music, so the result is verified by
size after encoding, never just estimated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from services.audio.edit import fit_length
from services.audio.mp3 import FALLBACK_SAMPLE_RATE, MP3_SAMPLE_RATES, encode_mp3
from services.audio.types import Audio

DEFAULT_BITRATES = (192, 160, 128, 96, 64, 48, 32)
DEFAULT_HEADROOM_BYTES = 32 * 1024  # multipart boundaries, headers and the JSON payload of the message
MIN_SECONDS = 1.0  # below this, a clip is not worth sending
SHORTEN_FADE_S = 3.0
_FIXED_OVERHEAD_BYTES = 1024  # ID3 header and padding of the tag block
_MAX_SHORTEN_TRIES = 6


class UploadTooSmallError(ValueError):
    """Not even MIN_SECONDS of audio at the lowest bitrate fits the space left for it."""


@dataclass(frozen=True)
class FittedMp3:
    """An MP3 that fits the space it was given, and what it cost to make it fit."""

    data: bytes  # the MP3 file
    bitrate_kbps: int  # constant bitrate it was encoded at
    duration_s: float  # playing time of `data`
    shortened: bool  # True when the audio was cut (and faded) to fit
    note: str | None  # sentence for the user when something they would notice changed, else None

    @property
    def size_bytes(self) -> int:
        return len(self.data)


def estimate_mp3_bytes(duration_s: float, bitrate_kbps: int, sample_rate: int, tag_bytes: int = 0) -> int:
    """Upper estimate of a CBR MP3's size: audio frames (plus encoder delay and padding), Info frame, tags."""
    rate = sample_rate if sample_rate in MP3_SAMPLE_RATES else FALLBACK_SAMPLE_RATE
    frame_bytes = 144_000 * bitrate_kbps / rate + 1
    frames = math.ceil((duration_s * rate + 1105 + 1152) / 1152) + 1  # +1: the Info frame
    return int(frames * frame_bytes) + _FIXED_OVERHEAD_BYTES + tag_bytes


def format_size(limit_bytes: int) -> str:
    """Discord quotes its limits in binary megabytes ("10 MB" = 10 MiB); small budgets read better in KB."""
    if limit_bytes >= 1_000_000:
        mb = limit_bytes / 2**20
        return f"{mb:.0f} MB" if abs(mb - round(mb)) < 0.05 else f"{mb:.1f} MB"
    return f"{limit_bytes / 1000:.0f} KB"


def format_duration(seconds: float) -> str:
    """m:ss, rounded down (the shortened piece is never longer than said)."""
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def fit_upload(
    audio: Audio,
    limit_bytes: int,
    *,
    other_bytes: int = 0,
    bitrates: Sequence[int] = DEFAULT_BITRATES,
    headroom_bytes: int = DEFAULT_HEADROOM_BYTES,
    tags: dict[str, str] | None = None,
    where: str = "this server's",
) -> FittedMp3:
    """The best MP3 of `audio` no larger than `limit_bytes - other_bytes - headroom_bytes`.

    Tries `bitrates` from highest to lowest, starting at the first whose size estimate fits and verifying
    each by encoding. When even the lowest bitrate is too big, the audio is shortened (faded out over the
    last seconds) to what fits at that bitrate, and `note` says so ("... to fit {where} 10 MB upload limit").
    Raises UploadTooSmallError when less than MIN_SECONDS would fit.
    """
    if not bitrates:
        raise ValueError("no bitrates to try")
    budget = limit_bytes - other_bytes - headroom_bytes
    ordered = sorted(set(bitrates), reverse=True)
    tag_bytes = sum(len(k) + len(v.encode("utf-8")) + 16 for k, v in (tags or {}).items())
    duration = audio.duration
    for kbps in ordered:
        if estimate_mp3_bytes(duration, kbps, audio.sample_rate, tag_bytes) > budget:
            continue
        data = encode_mp3(audio, kbps, tags=tags)
        if len(data) <= budget:
            return FittedMp3(data, kbps, duration, shortened=False, note=None)
    return _shortened(audio, budget, ordered[-1], limit_bytes, tags, tag_bytes, where)


def _shortened(
    audio: Audio,
    budget: int,
    kbps: int,
    limit_bytes: int,
    tags: dict[str, str] | None,
    tag_bytes: int,
    where: str,
) -> FittedMp3:
    """Cut to the longest length whose encoding fits `budget` at `kbps`, shrinking after each miss."""
    bytes_per_second = kbps * 125
    seconds = (budget - estimate_mp3_bytes(0.0, kbps, audio.sample_rate, tag_bytes)) / bytes_per_second
    seconds = math.floor(min(seconds, audio.duration) * 10) / 10  # whole tenths: a tidy length to report
    for _ in range(_MAX_SHORTEN_TRIES):
        if seconds < MIN_SECONDS:
            break
        cut = fit_length(audio, seconds, fade_out_s=SHORTEN_FADE_S)
        data = encode_mp3(cut, kbps, tags=tags)
        if len(data) <= budget:
            length, limit = format_duration(cut.duration), format_size(limit_bytes)
            note = f"Shortened to {length} to fit {where} {limit} upload limit"
            return FittedMp3(data, kbps, cut.duration, shortened=True, note=note)
        over = len(data) - budget
        seconds = math.floor((seconds - over / bytes_per_second - 0.5) * 10) / 10
    raise UploadTooSmallError(
        f"only {max(budget, 0)} bytes are left for the audio: less than {MIN_SECONDS:.0f} s at {kbps} kbps"
    )
