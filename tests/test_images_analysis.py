"""Local picture analysis: clearly different pictures give clearly different music, every time."""

from __future__ import annotations

import numpy as np
from PIL import Image

from services.images.analysis import analyse_image, measure
from services.prompting.interpreter import interpret


def dark_blue_smooth() -> Image.Image:
    """A night sky: a gentle dark-blue vertical gradient, no edges."""
    y = np.linspace(0.0, 1.0, 240)[:, None] * np.ones((1, 320))
    pixels = np.stack([8 + 20 * y, 16 + 30 * y, 60 + 70 * y], axis=-1)
    return Image.fromarray(pixels.astype(np.uint8))


def bright_red_busy() -> Image.Image:
    """A red and yellow checkerboard with noise: warm, saturated, full of edges."""
    rng = np.random.default_rng(7)
    checks = (np.add.outer(np.arange(240) // 6, np.arange(320) // 6) % 2).astype(bool)
    pixels = np.empty((240, 320, 3))
    pixels[:] = (235, 35, 25)
    pixels[checks] = (255, 215, 60)
    pixels += rng.normal(0, 12, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def test_measurements_describe_what_the_pictures_are() -> None:
    dark, bright = measure(dark_blue_smooth()), measure(bright_red_busy())
    assert dark.brightness < 0.25 < 0.5 < bright.brightness
    assert dark.edge_density < 0.02 and bright.edge_density > 0.3
    assert dark.warmth < -0.5 and bright.warmth > 0.5
    assert dark.hues[0] == "blue" and set(bright.hues) >= {"red", "yellow"}
    assert bright.contrast > dark.contrast
    assert any("blue" in s.name for s in dark.palette)
    assert abs(sum(s.share for s in dark.palette) - 1.0) < 1e-6


def test_dark_blue_smooth_and_bright_red_busy_give_clearly_different_styles() -> None:
    calm, lively = analyse_image(dark_blue_smooth()), analyse_image(bright_red_busy())
    assert calm.mood.tempo_bpm <= 90 and lively.mood.tempo_bpm >= 120
    assert calm.mood.key.is_minor and not lively.mood.key.is_minor
    assert lively.mood.energy - calm.mood.energy > 0.4
    assert lively.mood.valence - calm.mood.valence > 0.8
    assert calm.mood.genre != lively.mood.genre
    assert {"dark", "calm", "smooth"} <= set(calm.mood.tags)
    assert {"bright", "energetic", "busy"} <= set(lively.mood.tags)


def test_the_styles_backend_reads_the_prompt_as_meant() -> None:
    """The prompt is for the styles interpreter: it must land on the tempo, key and genre chosen."""
    for analysis in (analyse_image(dark_blue_smooth()), analyse_image(bright_red_busy())):
        spec = interpret(analysis.prompt, embedder=None)
        assert spec.tempo_bpm == analysis.mood.tempo_bpm
        assert spec.key == analysis.mood.key
        assert spec.genres[0] == analysis.mood.genre
        assert "blues" not in spec.genres


def test_analysis_is_deterministic() -> None:
    first, second = analyse_image(bright_red_busy()), analyse_image(bright_red_busy())
    assert first == second
    assert analyse_image(dark_blue_smooth()).prompt == analyse_image(dark_blue_smooth()).prompt


def test_summary_says_what_was_seen_and_why() -> None:
    analysis = analyse_image(dark_blue_smooth())
    saw = "\n".join(analysis.saw)
    assert "blue" in saw and "dark" in saw and "smooth" in saw
    became = "\n".join(analysis.became)
    assert analysis.mood.key.name() in became and f"{analysis.mood.tempo_bpm} bpm" in became


def test_grey_and_tiny_pictures_still_get_a_style() -> None:
    grey = analyse_image(Image.new("RGB", (2, 2), (128, 128, 128)))
    assert grey.features.hues == () and grey.features.warmth == 0.0
    assert 60 <= grey.mood.tempo_bpm <= 150 and grey.prompt
    assert "no strong hue" in "\n".join(grey.saw)
