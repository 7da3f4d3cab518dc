"""WAV files read from their own header, with a sentence for every way the header can be wrong.

Why not scipy's reader: a header saying 0 channels made it raise "integer division or modulo by zero",
one saying 0 Hz came back as audio with no sample rate, and it converts every sample it finds even when
only the first seconds are wanted. Here the header is read first and checked field by field, and only
the frames asked for are converted. PCM (8, 16, 24, 32 bit) and IEEE float (32, 64 bit), in RIFF, RIFX
(big-endian) and RF64 files, plain or WAVE_FORMAT_EXTENSIBLE.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.audio.errors import AudioDecodeError, check_layout
from services.audio.types import Audio

_PCM, _FLOAT, _EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
_COMPRESSED = {0x0002: "ADPCM", 0x0006: "A-law", 0x0007: "µ-law", 0x0011: "IMA ADPCM", 0x0031: "GSM",
               0x0050: "MPEG", 0x0055: "MP3", 0x00FF: "AAC", 0x0161: "WMA"}  # fmt: skip
_MAX_CHUNKS = 1000  # real files have a handful; a file of empty chunks would keep the loop busy
_PCM_BITS = (8, 16, 24, 32)
_FLOAT_BITS = (32, 64)
_KIND = {"pcm": "PCM", "float": "floating-point"}
_SAVE_AS = "Save it as 16-bit PCM WAV, or send it as MP3, OGG or FLAC."


@dataclass(frozen=True)
class WavLayout:
    """What a WAV header says about its samples, and where they are."""

    encoding: str  # "pcm" or "float"
    endian: str  # "<" (RIFF, RF64) or ">" (RIFX)
    channels: int
    sample_rate: int
    bits: int
    data_start: int
    data_bytes: int  # what is really there: the declared size, cut to the end of the file

    @property
    def frame_bytes(self) -> int:
        return self.channels * (self.bits // 8)

    @property
    def frames(self) -> int:
        return self.data_bytes // self.frame_bytes


def _damaged(why: str) -> AudioDecodeError:
    return AudioDecodeError(f"That WAV file is damaged: {why}. Try exporting it again.")


def read_layout(data: bytes) -> WavLayout:
    """The checked layout of a WAV file's samples; AudioDecodeError saying what is wrong otherwise."""
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RIFX", b"RF64") or data[8:12] != b"WAVE":
        raise _damaged("it doesn't start with a WAV header")
    endian = ">" if data[:4] == b"RIFX" else "<"
    fmt_chunk: bytes | None = None
    pos = 12
    for _ in range(_MAX_CHUNKS):
        if pos + 8 > len(data):
            break
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack(endian + "I", data[pos + 4 : pos + 8])
        body = pos + 8
        if chunk_id == b"fmt ":
            fmt_chunk = data[body : body + size]
            if len(fmt_chunk) < 16:
                raise AudioDecodeError("That WAV file is cut short: it ends inside its header.")
        elif chunk_id == b"data":
            if fmt_chunk is None:
                raise _damaged("its sound data comes before the header that describes it")
            available = len(data) - body
            # a streaming writer leaves the size at 0xFFFFFFFF (RF64 keeps it elsewhere): take what is there
            declared = available if size == 0xFFFFFFFF else size
            return _layout(fmt_chunk, endian, body, min(declared, available))
        pos = body + size + (size & 1)  # chunks are padded to an even length
    else:
        raise _damaged(f"it has more than {_MAX_CHUNKS:,} sections before its sound")
    if fmt_chunk is None:
        raise AudioDecodeError("That WAV file is cut short: it ends before saying how its sound is stored.")
    raise AudioDecodeError("That WAV file has no sound data in it, only a header.")


def _layout(fmt_chunk: bytes, endian: str, data_start: int, data_bytes: int) -> WavLayout:
    tag, channels, rate, _, _, bits = struct.unpack(endian + "HHIIHH", fmt_chunk[:16])
    if tag == _EXTENSIBLE and len(fmt_chunk) >= 26:
        (tag,) = struct.unpack(endian + "H", fmt_chunk[24:26])  # first two bytes of the sub-format GUID
    if tag not in (_PCM, _FLOAT):
        kind = f"{_COMPRESSED[tag]}-compressed" if tag in _COMPRESSED else "compressed"
        raise AudioDecodeError(f"That WAV file holds {kind} sound, which I can't read. {_SAVE_AS}")
    check_layout("WAV", channels, rate)
    if bits == 0:
        raise AudioDecodeError("That WAV file says its samples have 0 bits, so there is no sound in it.")
    encoding = "float" if tag == _FLOAT else "pcm"
    if bits not in (_FLOAT_BITS if encoding == "float" else _PCM_BITS):
        raise AudioDecodeError(
            f"That WAV file stores {bits}-bit {_KIND[encoding]} samples, which I can't read. {_SAVE_AS}"
        )
    layout = WavLayout(encoding, endian, channels, rate, bits, data_start, data_bytes)
    if layout.frames == 0:
        raise AudioDecodeError("That WAV file holds no sound: its data section is empty.")
    return layout


def read_wav(data: bytes, *, max_seconds: float | None = None) -> Audio:
    """float32 audio from WAV bytes; only the first `max_seconds` are converted (bounds memory)."""
    layout = read_layout(data)
    frames = layout.frames
    if max_seconds is not None:
        frames = min(frames, round(max(0.0, max_seconds) * layout.sample_rate))
    raw = data[layout.data_start : layout.data_start + frames * layout.frame_bytes]
    samples = _to_float(raw, layout).reshape(frames, layout.channels).T
    if not np.isfinite(samples).all():
        raise AudioDecodeError(
            "That WAV file has broken samples (not-a-number or infinite values), so I can't use it."
        )
    return Audio(np.ascontiguousarray(samples, dtype=np.float32), layout.sample_rate)


def _to_float(raw: bytes, layout: WavLayout) -> npt.NDArray[np.float32]:
    """Interleaved samples as float32 within [-1, 1] (float files as stored)."""
    bits, endian = layout.bits, layout.endian
    if layout.encoding == "float":
        return np.frombuffer(raw, dtype=f"{endian}f{bits // 8}").astype(np.float32)
    if bits == 8:  # unsigned, centred on 128
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if bits == 24:
        triples = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        low, mid, high = (triples[:, 0], triples[:, 1], triples[:, 2])
        if endian == ">":
            low, high = high, low
        ints = (low | (mid << 8) | (high << 16)) << 8 >> 8  # sign-extend from 24 bits
        return ints.astype(np.float32) / float(2**23)
    ints = np.frombuffer(raw, dtype=f"{endian}i{bits // 8}")
    return ints.astype(np.float32) / float(2 ** (bits - 1))
