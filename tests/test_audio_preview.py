"""Preview pictures: valid PNGs of the asked size that actually show the audio."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from services.audio.preview import colour_map, render_preview, waveform_png
from services.audio.types import Audio

SR = 22_050
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def tone(freq: float, seconds: float = 4.0, level: float = 0.5) -> Audio:
    t = np.arange(round(seconds * SR)) / SR
    return Audio.from_array(np.stack([level * np.sin(2 * np.pi * freq * t)] * 2), SR)


def pixels(png: bytes) -> np.ndarray:
    assert png.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


def brightest_row(png: bytes, height: int = 360) -> int:
    """Row of the spectrogram area with the most light (the title bar is absent in these pictures)."""
    rgb = pixels(png).astype(float)
    spectrogram = rgb[: height - 18 - 60]
    return int(np.argmax(spectrogram.sum(axis=(1, 2))))


def test_colour_map_lightness_rises_steadily() -> None:
    lut = colour_map().astype(float) / 255.0
    assert lut.shape == (256, 3)
    linear = np.where(lut <= 0.04045, lut / 12.92, ((lut + 0.055) / 1.055) ** 2.4)
    luminance = linear @ np.array([0.2126, 0.7152, 0.0722])
    assert np.all(np.diff(luminance) > 0)  # every step brighter: dB order is visible in grey too
    assert luminance[0] < 0.01 and luminance[-1] > 0.85
    assert len({tuple(c) for c in colour_map()}) > 200  # not a handful of bands


@pytest.mark.parametrize(("width", "height"), [(960, 360), (640, 200), (300, 120)])
def test_preview_is_a_png_of_the_requested_size(width: int, height: int) -> None:
    rgb = pixels(render_preview(tone(440.0), width=width, height=height))
    assert rgb.shape == (height, width, 3)


def test_higher_pitches_are_drawn_higher_on_a_log_axis() -> None:
    rows = [brightest_row(render_preview(tone(f))) for f in (110.0, 440.0, 1760.0)]
    assert rows[0] > rows[1] > rows[2]  # image rows grow downwards
    # log frequency: equal musical intervals (two octaves each) take equal space
    assert abs((rows[0] - rows[1]) - (rows[1] - rows[2])) <= 3


def test_different_audio_gives_different_images() -> None:
    a = pixels(render_preview(tone(300.0)))
    b = pixels(render_preview(tone(3000.0)))
    rng = np.random.default_rng(0)
    c = pixels(render_preview(Audio.from_array(0.3 * rng.standard_normal((2, 4 * SR)), SR)))
    assert np.mean(np.abs(a.astype(int) - b.astype(int))) > 2
    assert np.mean(np.abs(a.astype(int) - c.astype(int))) > 10  # noise lights up the whole spectrogram
    assert render_preview(tone(300.0)) == render_preview(tone(300.0))  # and the same audio, the same image


def test_title_and_axis_are_drawn() -> None:
    plain = pixels(render_preview(tone(440.0)))
    titled = pixels(render_preview(tone(440.0), title="Lo-fi rain, 80 bpm"))
    assert titled.shape == plain.shape
    title_bar = titled[:22]
    assert len({tuple(p) for p in title_bar.reshape(-1, 3)}) > 5  # text, anti-aliased, not an empty bar
    axis = plain[-18:]
    assert np.count_nonzero(axis.max(axis=2) > 120) > 50  # ticks and labels


def test_quiet_and_loud_audio_show_in_the_level_strip() -> None:
    quiet = pixels(render_preview(tone(440.0, level=0.005)))[360 - 18 - 60 : 360 - 18]
    loud = pixels(render_preview(tone(440.0, level=0.9)))[360 - 18 - 60 : 360 - 18]
    lit = np.count_nonzero(loud.max(axis=2) > 60)
    assert lit > 5 * np.count_nonzero(quiet.max(axis=2) > 60)


def test_silence_empty_and_broken_audio_still_render() -> None:
    for audio in (
        Audio(np.zeros((2, SR), dtype=np.float32), SR),
        Audio(np.zeros((1, 0), dtype=np.float32), SR),
        Audio(np.full((2, 1000), np.nan, dtype=np.float32), SR),
        Audio(np.ones((1, 10), dtype=np.float32), SR),
    ):
        assert pixels(render_preview(audio)).shape == (360, 960, 3)
        assert pixels(waveform_png(audio)).shape == (200, 960, 3)


def test_long_audio_and_long_titles() -> None:
    long = tone(220.0, seconds=300.0)
    rgb = pixels(render_preview(long, title="a very long prompt " * 40))
    assert rgb.shape == (360, 960, 3)


def test_sizes_out_of_range_are_rejected() -> None:
    with pytest.raises(ValueError):
        render_preview(tone(440.0), width=10)
    with pytest.raises(ValueError):
        render_preview(tone(440.0), height=100_000)
    with pytest.raises(ValueError):
        waveform_png(tone(440.0), height=20)


def test_waveform_shows_each_channel_on_one_scale() -> None:
    t = np.arange(2 * SR) / SR
    wave = np.sin(2 * np.pi * 100 * t)
    audio = Audio.from_array(np.stack([0.8 * wave, 0.2 * wave]), SR)
    rgb = pixels(waveform_png(audio, width=400, height=200))
    assert rgb.shape == (200, 400, 3)
    lane = (200 - 18) // 2
    left = np.count_nonzero(rgb[:lane].max(axis=2) > 100)
    right = np.count_nonzero(rgb[lane : 2 * lane].max(axis=2) > 100)
    assert left > 3 * right > 0  # the quieter channel is drawn smaller
    assert pixels(waveform_png(audio, title="x")).shape == (200, 960, 3)
