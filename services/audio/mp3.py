"""MP3 encoding (libmp3lame through ffmpeg), tags and header-based duration (decoding: see decoding.py).

Encoder delay and padding: LAME adds ~1105 silent frames in front and pads the last MP3 frame. ffmpeg records
both in the LAME/Info header of the first frame, and decoders that honour it (ffmpeg, browsers, Discord's
player) give back exactly the input length. That header is written by seeking back to the start after
encoding, so the MP3 must go to a seekable file: piped to stdout it loses the header and a 10 s input reads
back as 10.031 s. Hence one temporary file, in a private directory removed straight after.

pydub's own `export` is not used for encoding: it writes a WAV and an MP3 into the shared temp directory (and
leaves them behind when ffmpeg fails); feeding float32 PCM on stdin is simpler and exact.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from services.audio.decoding import decode_audio as decode_audio  # its old home: callers import it here
from services.audio.errors import AudioDecodeError
from services.audio.ffmpeg import FfmpegError, run_ffmpeg
from services.audio.types import Audio

MP3_SAMPLE_RATES = (32_000, 44_100, 48_000)  # MPEG-1 rates: every bitrate from 32 to 320 kbps is valid
FALLBACK_SAMPLE_RATE = 44_100
BITRATES_KBPS = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
TAG_KEYS = ("title", "artist", "album", "comment", "genre", "date")  # ID3 frames ffmpeg maps by these names
_MAX_TAG_CHARS = 500


def _clean_tag(value: str) -> str:
    """Printable, single-line, bounded: tag values come from user prompts."""
    text = "".join(ch if ch.isprintable() else " " for ch in value)
    return " ".join(text.split())[:_MAX_TAG_CHARS]


def encode_mp3(audio: Audio, bitrate_kbps: int = 192, *, tags: dict[str, str] | None = None) -> bytes:
    """Constant-bitrate MP3 of `audio` (mono stays mono, more than two channels keep the first two).

    `tags` keys are among TAG_KEYS (title, artist, comment, ...) and become ID3v2.3 frames. Samples are
    clipped to [-1, 1]; NaN or infinity raises ValueError. Sample rates MP3 cannot carry at every bitrate are
    resampled to 44.1 kHz.
    """
    if bitrate_kbps not in BITRATES_KBPS:
        raise ValueError(f"bitrate must be one of {BITRATES_KBPS} kbps, got {bitrate_kbps}")
    if audio.frames == 0:
        raise ValueError("cannot encode empty audio")
    if not np.isfinite(audio.samples).all():
        raise ValueError("audio contains NaN or infinite samples")
    if audio.channels > 2:
        audio = audio.to_stereo()
    pcm = np.clip(audio.samples, -1.0, 1.0).T.astype("<f4").tobytes()
    out_rate = audio.sample_rate if audio.sample_rate in MP3_SAMPLE_RATES else FALLBACK_SAMPLE_RATE
    args = ["-f", "f32le", "-ar", str(audio.sample_rate), "-ac", str(audio.channels), "-i", "pipe:0"]
    args += ["-map_metadata", "-1", "-c:a", "libmp3lame", "-b:a", f"{bitrate_kbps}k", "-ar", str(out_rate)]
    for key, value in (tags or {}).items():
        if key not in TAG_KEYS:
            raise ValueError(f"unknown tag {key!r}; use one of {TAG_KEYS}")
        args += ["-metadata", f"{key}={_clean_tag(value)}"]
    args += ["-id3v2_version", "3", "-write_id3v1", "0"]
    with tempfile.TemporaryDirectory(prefix="promptjam-mp3-") as tmp:
        target = Path(tmp) / "out.mp3"
        run_ffmpeg([*args, "-f", "mp3", str(target)], stdin=pcm, timeout_s=60.0 + audio.duration)
        return target.read_bytes()


def mp3_tags(data: bytes) -> dict[str, str]:
    """The metadata ffmpeg reads from an MP3 (ID3 frames by their ffmpeg names: title, artist, comment...)."""
    try:
        args = ["-f", "mp3", "-i", "pipe:0", "-f", "ffmetadata", "pipe:1"]
        text = run_ffmpeg(args, stdin=data, timeout_s=30.0)
    except FfmpegError as exc:
        raise AudioDecodeError(f"could not read MP3 tags: {exc}") from exc
    tags: dict[str, str] = {}
    for line in text.decode("utf-8", errors="replace").splitlines():
        if not line or line.startswith((";", "#", "[")) or "=" not in line:
            continue
        key, value = _split_unescaped(line)
        tags[key] = value
    return tags


def _split_unescaped(line: str) -> tuple[str, str]:
    """Split an ffmetadata `key=value` line at the first unescaped '=' and unescape both sides."""
    parts: list[list[str]] = [[]]
    escaped = False
    for ch in line:
        if escaped:
            parts[-1].append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "=" and len(parts) == 1:
            parts.append([])
        else:
            parts[-1].append(ch)
    key = "".join(parts[0]).lower()
    value = "".join(parts[1]) if len(parts) > 1 else ""
    return key, value


# --- duration from the frame headers (no decoding, no ffprobe) ---------------------------------------------

_BITRATES_V1 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_BITRATES_V2 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_RATES_V1 = (44_100, 48_000, 32_000)
_LAME_MARKERS = (b"LAME", b"Lavf", b"Lavc")  # encoders that write delay/padding in the Info frame


def _skip_id3v2(data: bytes) -> int:
    if len(data) >= 10 and data[:3] == b"ID3":
        size = (data[6] & 0x7F) << 21 | (data[7] & 0x7F) << 14 | (data[8] & 0x7F) << 7 | (data[9] & 0x7F)
        footer = 10 if data[5] & 0x10 else 0
        return 10 + size + footer
    return 0


def _parse_header(data: bytes, pos: int) -> tuple[int, int, int, int] | None:
    """(frame length, samples per frame, sample rate, side-info bytes) of a Layer III frame at `pos`."""
    if pos + 4 > len(data):
        return None
    h = int.from_bytes(data[pos : pos + 4], "big")
    if (h >> 21) & 0x7FF != 0x7FF or (h >> 17) & 0x3 != 0x1:  # sync, Layer III
        return None
    version = (h >> 19) & 0x3  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    bitrate_index = (h >> 12) & 0xF
    rate_index = (h >> 10) & 0x3
    if version == 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    mpeg1 = version == 3
    rate = _RATES_V1[rate_index] // (1 if mpeg1 else 2 if version == 2 else 4)
    bitrate = (_BITRATES_V1 if mpeg1 else _BITRATES_V2)[bitrate_index] * 1000
    padding = (h >> 9) & 0x1
    mono = (h >> 6) & 0x3 == 0x3
    per_frame = 1152 if mpeg1 else 576
    length = (144 if mpeg1 else 72) * bitrate // rate + padding
    side_info = (17 if mono else 32) if mpeg1 else (9 if mono else 17)
    return length, per_frame, rate, side_info


def _info_frame_gaps(frame: bytes, side_info: int) -> tuple[int, int] | None:
    """(encoder delay, end padding) when `frame` is a Xing/Info frame with a LAME-style tag, else None.

    Returns (0, 0) for an Info frame without the tag: still not audio, but nothing to trim.
    """
    at = 4 + side_info
    if frame[at : at + 4] not in (b"Xing", b"Info"):
        return None
    flags = int.from_bytes(frame[at + 4 : at + 8], "big")
    at += 8 + 4 * bool(flags & 1) + 4 * bool(flags & 2) + 100 * bool(flags & 4) + 4 * bool(flags & 8)
    if frame[at : at + 4] not in _LAME_MARKERS or len(frame) < at + 24:
        return 0, 0
    gaps = int.from_bytes(frame[at + 21 : at + 24], "big")
    return gaps >> 12, gaps & 0xFFF


def mp3_duration(data: bytes) -> float:
    """Playing time in seconds, from the frame headers and the encoder delay/padding in the Info frame.

    Matches what ffmpeg decodes (gapless). Raises AudioDecodeError when no MP3 frame is found.
    """
    pos = _skip_id3v2(data)
    first = _parse_header(data, pos)
    while first is None and pos < min(len(data), 64 * 1024):  # tolerate junk before the first frame
        pos += 1
        first = _parse_header(data, pos)
    if first is None:
        raise AudioDecodeError("no MP3 frame found")
    length, per_frame, rate, side_info = first
    gaps = _info_frame_gaps(data[pos : pos + length], side_info)
    delay, padding = (0, 0) if gaps is None else gaps
    if gaps is not None:
        pos += length  # the Info frame is silent metadata, not audio
    frames = 0
    header = _parse_header(data, pos)
    while header is not None and pos + header[0] <= len(data):  # a truncated last frame is not counted
        frames += 1
        pos += header[0]
        header = _parse_header(data, pos)
    return max(0, frames * per_frame - delay - padding) / rate
