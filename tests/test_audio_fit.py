"""Upload fitting: lower bitrate first, then shorten with a note; never larger than the limit."""

from __future__ import annotations

import numpy as np
import pytest

from services.audio.fit import (
    DEFAULT_HEADROOM_BYTES,
    UploadTooSmallError,
    estimate_mp3_bytes,
    fit_upload,
    format_duration,
    format_size,
)
from services.audio.mp3 import decode_audio, encode_mp3, mp3_duration, mp3_tags
from services.audio.types import Audio


def piece(seconds: float, sr: int = 44_100, seed: int = 0) -> Audio:
    """Stereo material with broadband content (so the encoder really spends its bits)."""
    rng = np.random.default_rng(seed)
    n = round(seconds * sr)
    t = np.arange(n, dtype=np.float32) / sr
    chord = 0.2 * (np.sin(2 * np.pi * 220 * t) + np.sin(2 * np.pi * 330 * t))
    hiss = 0.05 * rng.standard_normal((2, n)).astype(np.float32)
    return Audio.from_array(chord[None, :] + hiss, sr)


@pytest.fixture(scope="module")
def ten_minutes() -> Audio:
    return piece(600.0, sr=22_050, seed=1)


def test_a_generous_limit_keeps_the_top_bitrate() -> None:
    audio = piece(5.0)
    fitted = fit_upload(audio, 25 * 2**20)
    assert fitted.bitrate_kbps == 192 and not fitted.shortened and fitted.note is None
    assert fitted.duration_s == pytest.approx(5.0)


def test_sixty_seconds_in_300_kb_drops_the_bitrate_without_cutting() -> None:
    audio = piece(60.0)
    fitted = fit_upload(audio, 300_000)
    assert fitted.size_bytes <= 300_000 - DEFAULT_HEADROOM_BYTES
    assert fitted.bitrate_kbps < 192
    assert not fitted.shortened and fitted.note is None
    assert mp3_duration(fitted.data) == pytest.approx(60.0, abs=0.05)
    # the first bitrate whose estimate fits was the one chosen: the next higher one would not have fitted
    assert estimate_mp3_bytes(60.0, 48, 44_100) > 300_000 - DEFAULT_HEADROOM_BYTES
    assert fitted.bitrate_kbps == 32


def test_a_middle_limit_lands_on_a_middle_bitrate() -> None:
    audio = piece(20.0)
    limit = 300_000 + DEFAULT_HEADROOM_BYTES  # 20 s at 96 kbps is 240 KB, at 128 kbps 320 KB
    fitted = fit_upload(audio, limit)
    assert fitted.bitrate_kbps == 96 and not fitted.shortened
    assert fitted.size_bytes <= limit - DEFAULT_HEADROOM_BYTES


def test_ten_minutes_in_a_small_limit_is_shortened_with_a_note(ten_minutes: Audio) -> None:
    limit = 500_000
    fitted = fit_upload(ten_minutes, limit, bitrates=(128, 64, 32))
    assert fitted.size_bytes <= limit - DEFAULT_HEADROOM_BYTES
    assert fitted.shortened and fitted.bitrate_kbps == 32
    assert 60.0 < fitted.duration_s < 600.0
    # most of the space is used: no needless cutting
    assert fitted.duration_s * 32_000 / 8 > 0.9 * (limit - DEFAULT_HEADROOM_BYTES - 4096)
    length = format_duration(fitted.duration_s)
    assert fitted.note == f"Shortened to {length} to fit this server's 500 KB upload limit"
    decoded = decode_audio(fitted.data)
    assert decoded.duration == pytest.approx(fitted.duration_s, abs=0.05)
    tail = decoded.samples[:, -2_000:]
    body = decoded.samples[:, decoded.frames // 2 : decoded.frames // 2 + 44_100]
    assert np.abs(tail).max() < 0.1 * np.abs(body).max()  # it fades out instead of stopping dead


def test_other_attachments_and_headroom_count_against_the_limit(ten_minutes: Audio) -> None:
    alone = fit_upload(ten_minutes, 900_000, bitrates=(32,))
    shared = fit_upload(ten_minutes, 900_000, bitrates=(32,), other_bytes=300_000, where="the channel's")
    assert shared.size_bytes + 300_000 <= 900_000 - DEFAULT_HEADROOM_BYTES
    assert shared.duration_s < alone.duration_s
    assert shared.note is not None and "the channel's" in shared.note
    no_headroom = fit_upload(ten_minutes, 900_000, bitrates=(32,), headroom_bytes=0)
    assert alone.size_bytes < no_headroom.size_bytes <= 900_000


@pytest.mark.parametrize("limit", [60_000, 123_457, 250_000])
def test_the_result_never_exceeds_the_limit(limit: int) -> None:
    fitted = fit_upload(piece(45.0, seed=limit), limit, headroom_bytes=0)
    assert fitted.size_bytes <= limit


def test_tags_survive_fitting() -> None:
    fitted = fit_upload(piece(3.0), 10 * 2**20, tags={"title": "sea shanty", "artist": "promptjam"})
    assert mp3_tags(fitted.data)["title"] == "sea shanty"


def test_a_limit_too_small_for_one_second_is_an_error_not_an_oversized_file() -> None:
    with pytest.raises(UploadTooSmallError):
        fit_upload(piece(10.0), DEFAULT_HEADROOM_BYTES + 4_000)  # about 1 s at 32 kbps, less the overhead
    with pytest.raises(UploadTooSmallError):
        fit_upload(piece(10.0), 10 * 2**20, other_bytes=10 * 2**20)
    with pytest.raises(ValueError):
        fit_upload(piece(1.0), 10 * 2**20, bitrates=())


def test_estimates_are_upper_bounds_close_to_real_sizes() -> None:
    audio = piece(8.0)
    for kbps in (32, 128, 192):
        real = len(encode_mp3(audio, kbps))
        estimate = estimate_mp3_bytes(8.0, kbps, 44_100)
        assert real <= estimate < real * 1.05 + 2048


def test_user_facing_formats() -> None:
    assert format_size(10 * 2**20) == "10 MB"
    assert format_size(25 * 2**20) == "25 MB"
    assert format_size(8 * 2**20 + 2**19) == "8.5 MB"
    assert format_size(300_000) == "300 KB"
    assert format_duration(160.9) == "2:40"
    assert format_duration(59.99) == "0:59"
