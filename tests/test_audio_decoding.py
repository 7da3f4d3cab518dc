"""User audio that is broken, disguised or odd: a sentence for its sender, never Python's own words.

Decoded through `audio_seed`, the function riffusion's audio-to-audio job calls with the attachment.
"""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from PIL import Image
from scipy.io import wavfile

from services.audio.decoding import decode_audio
from services.audio.errors import AudioDecodeError
from services.audio.ffmpeg import run_ffmpeg
from services.backends.riffusion.seeds import audio_format, audio_seed
from services.errors import UserError
from tests.tiny_models import wav_bytes

PYTHON_WORDS = ("division", "modulo", "index", "errno", "traceback", "struct", "unpack", "buffer", "ffmpeg",
                "error code", "exception", "none", "literal", "b'", "nonetype", "0x")  # fmt: skip
TONE = wav_bytes(1.0)  # 16-bit mono 22,050 Hz
PCM = TONE[44:]


def fmt_chunk(tag: int = 1, channels: int = 1, rate: int = 22_050, bits: int = 16) -> bytes:
    align = (channels * bits // 8) & 0xFFFF
    return struct.pack("<HHIIHH", tag, channels, rate, (rate * align) & 0xFFFFFFFF, align, bits)


def riff(fmt: bytes, data: bytes, *, data_size: int | None = None) -> bytes:
    """A RIFF/WAVE file with these fmt and data chunks; `data_size` overrides the declared data length."""
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data) if data_size is None else data_size) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (255, 0, 0)).save(buffer, "PNG")
    return buffer.getvalue()


def zipped() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("song.wav", TONE)
    return buffer.getvalue()


NOT_A_NUMBER = np.array([np.nan, np.inf, -np.inf, 0.5] * 500, dtype="<f4").tobytes()
EIGHT_HOURS = 8 * 3600 * 22_050 * 2  # bytes of 16-bit mono at 22,050 Hz

CORRUPT = [
    ("0 channels", riff(fmt_chunk(channels=0), PCM), "wav", "0 channels"),
    ("0 Hz", riff(fmt_chunk(rate=0), PCM), "wav", "0 Hz"),
    ("0 channels and 0 Hz", riff(struct.pack("<HHIIHH", 1, 0, 0, 0, 0, 16), PCM), "wav", "0 channels"),
    ("1 Hz", riff(fmt_chunk(rate=1), PCM), "wav", "sample rate is 1 Hz"),
    ("4 GHz", riff(fmt_chunk(rate=0xFFFFFFFF), PCM), "wav", "sample rate"),
    ("65,535 channels", riff(fmt_chunk(channels=65_535), PCM), "wav", "65,535 channels"),
    ("0-bit samples", riff(fmt_chunk(bits=0), PCM), "wav", "0 bits"),
    ("7-bit samples", riff(fmt_chunk(bits=7), PCM), "wav", "7-bit"),
    ("ADPCM", riff(fmt_chunk(tag=2, bits=4), PCM), "wav", "ADPCM-compressed"),
    ("header cut short", TONE[:30], "wav", "cut short"),
    ("header only", TONE[:44], "wav", "no sound"),
    ("no data chunk", TONE[:36], "wav", "no sound data"),
    ("absurd data size, no data", riff(fmt_chunk(), b"", data_size=0xFFFFFFF0), "wav", "no sound"),
    ("8 hours declared, no data", riff(fmt_chunk(), b"", data_size=EIGHT_HOURS), "wav", "no sound"),
    ("NaN and infinity", riff(fmt_chunk(tag=3, bits=32), NOT_A_NUMBER), "wav", "not-a-number"),
    ("no format chunk", b"RIFX1234WAVEjunk" + bytes(40), "wav", "cut short"),
    ("unknown compression", riff(fmt_chunk(tag=0x1234), PCM), "wav", "compressed sound"),
    ("sound before its header", b"RIFF\0\0\0\0WAVEdata\x04\0\0\0\0\0\0\0" + TONE[12:], "wav", "comes before"),
    ("endless empty sections", b"RIFF\0\0\0\0WAVE" + b"junk\0\0\0\0" * 5000, "wav", "more than 1,000"),
    ("empty wav", b"", "wav", "empty"),
    ("empty mp3", b"", "mp3", "empty"),
    ("random bytes named .mp3", np.random.default_rng(0).bytes(5000), "mp3", "damaged"),
    ("random bytes named .ogg", np.random.default_rng(1).bytes(5000), "ogg", "damaged"),
    ("random bytes named .flac", np.random.default_rng(2).bytes(5000), "flac", "damaged"),
    ("zeros named .mp3", bytes(5000), "mp3", "damaged"),
    ("an Ogg page of junk", b"OggS" + np.random.default_rng(3).bytes(3000), "ogg", "damaged"),
    ("an ID3 tag and junk", b"ID3\x03\x00\x00\x00\x00\x00\x10" + bytes(3000), "mp3", "damaged"),
    ("a PNG named .wav", png(), "wav", "PNG picture"),
    ("a ZIP named .flac", zipped(), "flac", "ZIP archive"),
    ("text named .ogg", b"not audio at all, just words\n" * 20, "ogg", "text file"),
    ("MIDI named .mp3", b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0", "mp3", "MIDI"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "data", "fmt", "words"), CORRUPT, ids=[c[0] for c in CORRUPT])
def test_corrupt_audio_gets_a_short_friendly_sentence(name: str, data: bytes, fmt: str, words: str) -> None:
    with pytest.raises(UserError) as caught:
        audio_seed(data, fmt)
    assert isinstance(caught.value, AudioDecodeError)
    message = caught.value.message
    assert words in message, (name, message)
    assert message[0].isupper() and message.endswith(".") and len(message) < 200, message
    lowered = message.lower()
    assert not [w for w in PYTHON_WORDS if w in lowered], (name, message)


def test_wrong_names_and_sizes_are_user_errors_too() -> None:
    with pytest.raises(UserError, match="attach an audio file"):
        audio_format("notes.txt")
    with pytest.raises(UserError, match="limit is"):
        audio_seed(TONE, "wav", max_bytes=1000)
    with pytest.raises(UserError, match="unsupported"):
        decode_audio(TONE, "exe")


def _peak_bytes_while(work: object) -> int:
    tracemalloc.start()
    try:
        work()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_declared_lengths_cost_no_memory_and_only_the_needed_seconds_are_converted() -> None:
    """A header may claim 8 hours or 4 GB: only the bytes that are there count, and of those only the
    seconds asked for are turned into samples."""
    eight_hours = riff(fmt_chunk(), PCM, data_size=EIGHT_HOURS)
    absurd = riff(fmt_chunk(), PCM, data_size=0xFFFFFFF0)
    for data in (eight_hours, absurd):
        audio = decode_audio(data, "wav", max_seconds=60.0)
        assert audio.frames == 22_050 and audio.sample_rate == 22_050  # the second that is really there
        assert _peak_bytes_while(lambda data=data: decode_audio(data, "wav", max_seconds=60.0)) < 2**20
    long_wav = riff(fmt_chunk(), np.zeros(60 * 22_050, dtype="<i2").tobytes())  # a real minute: 2.6 MB
    head = decode_audio(long_wav, "wav", max_seconds=2.0)
    assert head.frames == 2 * 22_050
    assert _peak_bytes_while(lambda: decode_audio(long_wav, "wav", max_seconds=2.0)) < 2**20
    assert audio_seed(eight_hours, "wav").size == (512, 512)  # and it is usable


def test_the_bytes_decide_the_decoder_not_the_name() -> None:
    mp3 = run_ffmpeg(["-f", "wav", "-i", "pipe:0", "-c:a", "libmp3lame", "-f", "mp3", "pipe:1"], stdin=TONE)
    opus = run_ffmpeg(["-f", "wav", "-i", "pipe:0", "-c:a", "libopus", "-f", "ogg", "pipe:1"], stdin=TONE)
    vorbis = run_ffmpeg(["-f", "wav", "-i", "pipe:0", "-c:a", "libvorbis", "-f", "ogg", "pipe:1"], stdin=TONE)
    for data, fmt in ((mp3, "wav"), (TONE, "mp3"), (opus, "ogg"), (vorbis, "ogg"), (opus, "mp3")):
        audio = decode_audio(data, fmt)
        assert audio.duration == pytest.approx(1.0, abs=0.1), fmt
        assert np.abs(audio.samples).max() > 0.1
    assert audio_seed(opus, audio_format("voice-message.ogg")).size == (512, 512)  # Discord's voice notes


def _wav_with(fmt: bytes, data: bytes, *, riff_id: bytes = b"RIFF", endian: str = "<") -> bytes:
    body = b"WAVE" + b"fmt " + struct.pack(endian + "I", len(fmt)) + fmt
    body += b"LIST" + struct.pack(endian + "I", 3) + b"abc\x00"  # an odd-sized chunk before the data
    body += b"data" + struct.pack(endian + "I", len(data)) + data
    return riff_id + struct.pack(endian + "I", len(body)) + body


def test_every_pcm_and_float_layout_reads_like_scipy() -> None:
    rng = np.random.default_rng(5)
    wave = (0.8 * rng.uniform(-1, 1, (300, 2))).astype(np.float64)
    for dtype, scale in (("u1", 128), ("<i2", 2**15), ("<i4", 2**31), ("<f4", 1), ("<f8", 1)):
        stored = (wave * scale + (128 if dtype == "u1" else 0)).astype(dtype)
        buffer = io.BytesIO()
        wavfile.write(buffer, 48_000, stored)
        audio = decode_audio(buffer.getvalue(), "wav")
        assert (audio.channels, audio.frames, audio.sample_rate) == (2, 300, 48_000)
        rate, reference = wavfile.read(io.BytesIO(buffer.getvalue()))
        expected = (reference.astype(np.float64) - (128 if dtype == "u1" else 0)) / scale
        np.testing.assert_allclose(audio.samples, expected.T, atol=1e-6, err_msg=dtype)  # exact but float32

    ints = np.round(wave[:, 0] * 2**23).astype("<i4")  # 24-bit: three bytes a sample, little-endian
    packed = b"".join(int(v).to_bytes(3, "little", signed=True) for v in ints)
    audio = decode_audio(_wav_with(fmt_chunk(rate=44_100, bits=24), packed), "wav")
    np.testing.assert_allclose(audio.samples[0], ints / 2**23, atol=1e-7)
    big = b"".join(int(v).to_bytes(3, "big", signed=True) for v in ints)  # RIFX: the big-endian twin
    rifx_fmt = struct.pack(">HHIIHH", 1, 1, 44_100, 44_100 * 3, 3, 24)
    rifx = decode_audio(_wav_with(rifx_fmt, big, riff_id=b"RIFX", endian=">"), "wav")
    np.testing.assert_array_equal(rifx.samples, audio.samples)
    extensible = struct.pack("<HHIIHHHHI", 0xFFFE, 1, 44_100, 44_100 * 3, 3, 24, 22, 24, 4)
    extensible += b"\x01\x00\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"  # KSDATAFORMAT PCM
    ext = decode_audio(_wav_with(extensible, packed), "wav")
    np.testing.assert_array_equal(ext.samples, audio.samples)
