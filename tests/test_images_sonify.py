"""Sonify: the picture as a spectrogram — height is pitch, brightness is loudness, width is time."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from services.backends.riffusion.codec import SpectrogramCodec
from services.backends.riffusion.params import SpectrogramParams
from services.images.loading import load_image
from services.images.preview import image_preview
from services.images.sonify import columns_for, sonify, spectrogram_image

PARAMS = SpectrogramParams()


@pytest.fixture(scope="module")
def codec() -> SpectrogramCodec:
    return SpectrogramCodec(iterations=16)


def line_at(row_from_bottom: int, width: int = 160) -> Image.Image:
    pixels = np.zeros((512, width), dtype=np.uint8)
    pixels[512 - row_from_bottom - 3 : 512 - row_from_bottom + 3] = 255
    return Image.fromarray(pixels).convert("RGB")


def dominant_hz(samples: np.ndarray, sample_rate: int) -> float:
    middle = samples[len(samples) // 4 : 3 * len(samples) // 4]
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle))))
    return float(np.argmax(spectrum) * sample_rate / len(middle))


def test_a_bright_line_is_a_steady_tone_whose_pitch_rises_with_height(codec: SpectrogramCodec) -> None:
    pitches = []
    for row in (60, 200, 400):
        audio = sonify(line_at(row), codec=codec)
        mono = audio.samples[0]
        pitches.append(dominant_hz(mono, audio.sample_rate))
        body = mono[len(mono) // 10 : -len(mono) // 10]
        rms = np.sqrt(np.mean(body[: len(body) // 6 * 6].reshape(6, -1) ** 2, axis=1))
        assert rms.min() > 0.7 * rms.max()  # steady: no swells or gaps
        assert float(np.abs(mono).max()) > 0.05  # clearly audible
    assert pitches[0] < pitches[1] < pitches[2]
    assert pitches[0] > 100 and pitches[2] < 10_000


def test_a_dark_picture_is_near_silence(codec: SpectrogramCodec) -> None:
    dark = Image.new("RGB", (160, 512), (12, 12, 12))
    quiet = sonify(dark, codec=codec).samples
    loud = sonify(line_at(200), codec=codec).samples
    assert np.sqrt(np.mean(quiet**2)) < 0.01 * np.sqrt(np.mean(loud**2))
    assert float(np.abs(sonify(Image.new("RGB", (160, 512)), codec=codec).samples).max()) == 0.0


def test_length_follows_the_width(codec: SpectrogramCodec) -> None:
    short = sonify(Image.new("RGB", (100, 512), (200, 200, 200)), codec=codec)
    long = sonify(Image.new("RGB", (300, 512), (200, 200, 200)), codec=codec)
    assert short.frames == PARAMS.frames_for_width(100) and long.frames == PARAMS.frames_for_width(300)
    assert long.duration == pytest.approx(3 * short.duration, rel=0.02)
    assert float(np.abs(long.samples).max()) <= 0.95  # loud pictures are limited, never clipped


def test_width_is_by_aspect_at_512_rows_and_capped() -> None:
    assert columns_for((200, 100), PARAMS, 20.0) == 1024
    assert columns_for((10_000, 100), PARAMS, 20.0) == PARAMS.width_for_frames(20 * 44_100)
    assert columns_for((10, 1000), PARAMS, 20.0) == 32
    codec_picture = spectrogram_image(Image.new("RGB", (64, 32), (255, 255, 255)))
    assert codec_picture.size == (1024, 512)
    assert codec_picture.getpixel((5, 5)) == (0, 0, 0)  # white in the picture: loudest in the codec's terms


def test_preview_shows_the_picture_beside_the_spectrogram(codec: SpectrogramCodec) -> None:
    image = line_at(200).resize((300, 200))
    png = image_preview(image, sonify(line_at(200), codec=codec), title="sonify")
    preview = Image.open(io.BytesIO(png))
    assert preview.format == "PNG" and preview.size == (960, 360)
    left = np.asarray(preview.convert("RGB"))[:, :300]
    assert left.max() == 255  # the white line of the picture is there


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"])
def test_every_allowed_format_makes_sound(fmt: str, codec: SpectrogramCodec) -> None:
    picture = Image.new("RGB", (120, 80), (20, 20, 20))
    picture.paste((250, 250, 250), (0, 30, 120, 40))
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt)
    audio = sonify(load_image(buffer.getvalue()).image, max_seconds=0.5, codec=codec)
    assert audio.frames == PARAMS.frames_for_width(columns_for((120, 80), PARAMS, 0.5))
    assert np.isfinite(audio.samples).all() and float(np.abs(audio.samples).max()) > 0.01
