"""MP3 through the real ffmpeg: exact length, channels, content, tags, header duration, decoding errors."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from scipy.io import wavfile

from services.audio.ffmpeg import FfmpegError, ffmpeg_exe, run_ffmpeg
from services.audio.mp3 import AudioDecodeError, decode_audio, encode_mp3, mp3_duration, mp3_tags
from services.audio.types import Audio


def tones(freqs: list[float], seconds: float, sr: int = 44_100, level: float = 0.5) -> Audio:
    t = np.arange(round(seconds * sr)) / sr
    return Audio.from_array(np.stack([level * np.sin(2 * np.pi * f * t) for f in freqs]), sr)


def peak_hz(x: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / sr)[np.argmax(spectrum)])


@pytest.fixture(scope="module")
def stereo_mp3() -> bytes:
    """10 s, 440 Hz left and 660 Hz right, tagged."""
    tags = {"title": "Rainy\nday = lo-fi", "artist": "promptjam", "comment": "prompt: rain on a tin roof"}
    return encode_mp3(tones([440.0, 660.0], 10.0), 192, tags=tags)


def test_ffmpeg_is_found_and_runs() -> None:
    exe = ffmpeg_exe()
    assert os.access(exe, os.X_OK)
    assert b"libmp3lame" in run_ffmpeg(["-encoders"])
    with pytest.raises(FfmpegError):
        run_ffmpeg(["-f", "mp3", "-i", "pipe:0", "-f", "null", "-"], stdin=b"not an mp3 at all")


def test_round_trip_keeps_duration_channels_and_content(stereo_mp3: bytes) -> None:
    assert stereo_mp3[:3] == b"ID3"
    decoded = decode_audio(stereo_mp3)
    assert decoded.channels == 2
    assert decoded.sample_rate == 44_100
    assert decoded.samples.dtype == np.float32
    # encoder delay and padding are trimmed (the Info frame is written): 10 s in, 10 s out
    assert decoded.duration == pytest.approx(10.0, abs=0.05)
    assert peak_hz(decoded.samples[0], 44_100) == pytest.approx(440.0, abs=1.0)
    assert peak_hz(decoded.samples[1], 44_100) == pytest.approx(660.0, abs=1.0)
    # aligned sample for sample, not just the same pitch: no leftover delay at the start
    original = tones([440.0, 660.0], 10.0).samples
    n = min(original.shape[1], decoded.frames)
    assert np.corrcoef(original[0, :n], decoded.samples[0, :n])[0, 1] > 0.99
    assert np.corrcoef(original[1, :n], decoded.samples[1, :n])[0, 1] > 0.99


def test_header_duration_matches_the_decoder(stereo_mp3: bytes) -> None:
    assert mp3_duration(stereo_mp3) == pytest.approx(decode_audio(stereo_mp3).duration, abs=1e-3)
    assert mp3_duration(stereo_mp3) == pytest.approx(10.0, abs=0.05)


def test_tags_are_written_and_cleaned(stereo_mp3: bytes) -> None:
    tags = mp3_tags(stereo_mp3)
    assert tags["title"] == "Rainy day = lo-fi"  # the newline became a space
    assert tags["artist"] == "promptjam"
    assert tags["comment"] == "prompt: rain on a tin roof"
    with pytest.raises(ValueError, match="unknown tag"):
        encode_mp3(tones([440.0], 1.0), tags={"TXXX": "x"})


@pytest.mark.parametrize("kbps", [64, 128, 256])
def test_size_follows_the_bitrate(kbps: int) -> None:
    data = encode_mp3(tones([300.0, 500.0], 4.0), kbps)
    expected = kbps * 1000 / 8 * 4.0
    assert expected * 0.98 < len(data) < expected * 1.05 + 2000


def test_mono_stays_mono_and_other_rates_are_handled() -> None:
    mono = tones([1000.0], 3.0, sr=32_000)
    data = encode_mp3(mono, 96)
    decoded = decode_audio(data)
    assert decoded.channels == 1 and decoded.sample_rate == 32_000
    assert decoded.duration == pytest.approx(3.0, abs=0.05)
    assert mp3_duration(data) == pytest.approx(decoded.duration, abs=1e-3)
    # 22.05 kHz cannot carry 192 kbps in MP3: it is lifted to 44.1 kHz, length intact
    low = decode_audio(encode_mp3(tones([1000.0], 2.0, sr=22_050), 192))
    assert low.sample_rate == 44_100 and low.duration == pytest.approx(2.0, abs=0.05)
    assert peak_hz(low.samples[0], low.sample_rate) == pytest.approx(1000.0, abs=2.0)


def test_more_than_two_channels_are_reduced_to_stereo() -> None:
    audio = tones([200.0, 300.0, 400.0, 500.0], 1.0)
    assert decode_audio(encode_mp3(audio, 128)).channels == 2


def test_bad_input_is_rejected() -> None:
    audio = tones([440.0], 1.0)
    with pytest.raises(ValueError, match="bitrate"):
        encode_mp3(audio, 100)
    bad = audio.samples.copy()
    bad[0, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        encode_mp3(Audio(bad, 44_100))
    with pytest.raises(ValueError, match="empty"):
        encode_mp3(Audio(np.zeros((2, 0), dtype=np.float32)))


def test_loud_input_is_clipped_not_wrapped() -> None:
    decoded = decode_audio(encode_mp3(tones([220.0], 1.0, level=3.0), 192))
    assert np.abs(decoded.samples).max() <= 1.0
    assert peak_hz(decoded.samples[0], 44_100) == pytest.approx(220.0, abs=2.0)


def test_decoding_garbage_or_unknown_formats_fails_clearly() -> None:
    with pytest.raises(AudioDecodeError):
        decode_audio(b"\x00" * 5000)
    with pytest.raises(AudioDecodeError):
        decode_audio(b"")
    with pytest.raises(AudioDecodeError, match="unsupported"):
        decode_audio(b"abc", "exe")
    with pytest.raises(AudioDecodeError):
        decode_audio(b"RIFF1234WAVEjunk", "wav")
    with pytest.raises(AudioDecodeError):
        mp3_duration(b"\x00" * 100)


def test_wav_and_flac_decode_with_their_channels(stereo_mp3: bytes) -> None:
    audio = tones([440.0, 880.0], 1.5, sr=48_000)
    buffer = io.BytesIO()
    wavfile.write(buffer, 48_000, (audio.samples.T * 32767).astype(np.int16))
    wav = decode_audio(buffer.getvalue(), "WAV")
    assert wav.channels == 2 and wav.sample_rate == 48_000 and wav.frames == audio.frames
    np.testing.assert_allclose(wav.samples, audio.samples, atol=1e-4)

    flac = run_ffmpeg(["-f", "mp3", "-i", "pipe:0", "-c:a", "flac", "-f", "flac", "pipe:1"], stdin=stereo_mp3)
    decoded = decode_audio(flac, "flac")
    assert decoded.channels == 2 and decoded.duration == pytest.approx(10.0, abs=0.05)


def test_max_seconds_bounds_decoding(stereo_mp3: bytes) -> None:
    assert decode_audio(stereo_mp3, max_seconds=2.0).duration == pytest.approx(2.0, abs=0.03)
