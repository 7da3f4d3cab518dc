"""Decoding audio a user sent (mp3, wav, ogg, flac) into Audio, or a sentence saying why it can't be.

The bytes decide the decoder (see sniff); the file name only words the messages. WAV is read by our own
header-checking reader, the rest by ffmpeg through pydub with the decoder forced (there is no ffprobe to
ask). Whatever goes wrong, the caller gets an AudioDecodeError whose message a user can read.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np

from services.audio import sniff
from services.audio.errors import AudioDecodeError, check_layout
from services.audio.ffmpeg import audio_segment_class
from services.audio.types import Audio
from services.audio.wav import read_wav
from services.errors import InvalidInput

log = logging.getLogger(__name__)

_LABELS = {"mp3": "MP3", "wav": "WAV", "ogg": "OGG", "flac": "FLAC"}
_FFMPEG_DECODERS = {"mp3": "mp3", "flac": "flac", "ogg": "vorbis"}  # an Ogg's codec is read from its bytes
_SUFFIXES = {"oga": "ogg", "opus": "ogg"}  # names Discord and phones give Ogg files


def format_from_name(filename: str) -> str:
    """The decoder format for an attachment's file name; InvalidInput (a ValueError) for anything else."""
    suffix = Path(filename).suffix.lower().lstrip(".")
    fmt = _SUFFIXES.get(suffix, suffix)
    if fmt not in _LABELS:
        raise InvalidInput(
            "That file isn't audio I can use: please attach an audio file (mp3, wav, ogg or flac)."
        )
    return fmt


def decode_audio(data: bytes, fmt: str = "mp3", *, max_seconds: float | None = None) -> Audio:
    """float32 Audio from encoded bytes, keeping channels and sample rate; AudioDecodeError when unusable.

    `fmt` is what the file claims to be (its suffix); the bytes win when they say otherwise. `max_seconds`
    stops decoding early, which bounds the memory a large upload can cost.
    """
    named = fmt.lower().lstrip(".")
    if named not in _LABELS:
        raise AudioDecodeError(
            f"The .{named[:10]} format is unsupported: send the sound as MP3, WAV, OGG or FLAC."
        )
    if not data:
        raise AudioDecodeError(f"That {_LABELS[named]} file is empty (0 bytes): there is no sound in it.")
    actual = sniff.audio_format(data)
    if actual is None:
        other = sniff.other_kind(data)
        if other is not None:
            raise AudioDecodeError(f"That file is named like {_LABELS[named]} audio, but it is {other}.")
        actual = named  # no known signature (MP3s may start with junk): let the named decoder try
    label = _LABELS[actual]
    if actual == "wav":
        audio = read_wav(data, max_seconds=max_seconds)
    else:
        audio = _decode_with_ffmpeg(data, actual, label, max_seconds)
    if audio.frames == 0:
        raise AudioDecodeError(f"That {label} file holds no sound.")
    return audio


def _decode_with_ffmpeg(data: bytes, fmt: str, label: str, max_seconds: float | None) -> Audio:
    codec = _FFMPEG_DECODERS[fmt]
    if fmt == "ogg":
        codec = sniff.ogg_codec(data) or codec
    segment_cls = audio_segment_class()
    try:
        segment = segment_cls.from_file(io.BytesIO(data), format=fmt, codec=codec, duration=max_seconds)
    except Exception as exc:  # pydub raises CouldntDecodeError, IndexError or wave.Error on garbage
        log.info("ffmpeg could not decode %d bytes of %s (%s): %s", len(data), fmt, codec, str(exc)[:300])
        raise AudioDecodeError(
            f"That {label} file is damaged or isn't really {label} audio: I couldn't decode any sound "
            "from it. Try exporting it again."
        ) from None
    check_layout(label, segment.channels, segment.frame_rate)
    if segment.frame_count() == 0:
        raise AudioDecodeError(f"That {label} file holds no sound.")
    return _from_pcm(segment.raw_data, segment.sample_width, segment.channels, segment.frame_rate, label)


def _from_pcm(raw: bytes, sample_width: int, channels: int, sample_rate: int, label: str) -> Audio:
    """Interleaved little-endian integer PCM (what ffmpeg hands pydub) to float32 (channels, frames)."""
    if sample_width == 1:
        ints = np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0
    elif sample_width in (2, 4):
        ints = np.frombuffer(raw, dtype=f"<i{sample_width}").astype(np.float32)
    else:
        raise AudioDecodeError(f"That {label} file gave {8 * sample_width}-bit samples, which I can't use.")
    scale = float(2 ** (8 * sample_width - 1))
    frames = ints.size // channels
    samples = (ints[: frames * channels] / scale).reshape(frames, channels).T
    return Audio(np.ascontiguousarray(samples, dtype=np.float32), sample_rate)
