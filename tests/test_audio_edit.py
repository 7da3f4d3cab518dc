"""Fades, trim, loop, exact-length fitting, crossfaded joins and resampling."""

from __future__ import annotations

import numpy as np
import pytest

from services.audio.edit import (
    concat_crossfade,
    fade,
    fade_curve,
    fit_length,
    loop_to,
    pad,
    resample,
    trim,
)
from services.audio.types import Audio

SR = 8_000  # small rate keeps the arrays small; nothing here depends on it


def ramp(seconds: float, channels: int = 2, sr: int = SR) -> Audio:
    """A recognisable signal: each frame's value encodes its position (plus a channel offset)."""
    n = round(seconds * sr)
    base = np.linspace(0.1, 0.9, n)
    return Audio.from_array(np.stack([base + 0.01 * c for c in range(channels)]), sr)


def noise(seconds: float, seed: int, channels: int = 2, sr: int = SR) -> Audio:
    rng = np.random.default_rng(seed)
    return Audio.from_array(0.3 * rng.standard_normal((channels, round(seconds * sr))), sr)


def tone(freq: float, seconds: float, sr: int) -> Audio:
    t = np.arange(round(seconds * sr)) / sr
    return Audio.from_array(0.5 * np.sin(2 * np.pi * freq * t), sr)


def peak_hz(audio: Audio) -> float:
    spectrum = np.abs(np.fft.rfft(audio.samples[0] * np.hanning(audio.frames)))
    return float(np.fft.rfftfreq(audio.frames, 1 / audio.sample_rate)[np.argmax(spectrum)])


def test_curves_rise_from_zero_to_one_and_complement_each_other() -> None:
    cos = fade_curve(1000, "cosine")
    power = fade_curve(1000, "equal_power")
    for curve in (cos, power):
        assert curve[0] < 0.01 and curve[-1] > 0.99
        assert np.all(np.diff(curve) > 0)
    np.testing.assert_allclose(cos + cos[::-1], 1.0, atol=1e-12)  # amplitudes sum to one
    np.testing.assert_allclose(power**2 + power[::-1] ** 2, 1.0, atol=1e-12)  # powers sum to one
    with pytest.raises(ValueError):
        fade_curve(10, "linear")  # type: ignore[arg-type]


def test_fade_touches_only_the_ends() -> None:
    audio = ramp(2.0)
    out = fade(audio, 0.25, 0.5)
    fin, fout = round(0.25 * SR), round(0.5 * SR)
    assert np.abs(out.samples[:, 0]).max() < 0.01 * np.abs(audio.samples[:, 0]).max()
    assert np.abs(out.samples[:, -1]).max() < 0.01
    middle = slice(fin, audio.frames - fout)
    np.testing.assert_array_equal(out.samples[:, middle], audio.samples[:, middle])
    assert np.all(np.abs(out.samples) <= np.abs(audio.samples) + 1e-7)
    assert out.samples.dtype == np.float32 and out.samples.shape == audio.samples.shape


def test_fades_longer_than_the_audio_shrink_to_meet() -> None:
    audio = Audio.from_array(np.ones((1, 1000)), SR)
    out = fade(audio, 1.0, 1.0)  # 8000 + 8000 frames asked of a 1000-frame clip
    assert out.frames == 1000
    assert out.samples[0, 0] < 0.01 and out.samples[0, -1] < 0.01
    assert out.samples[0, 500] == pytest.approx(1.0, abs=0.02)


def test_fade_rejects_negative_lengths() -> None:
    with pytest.raises(ValueError):
        fade(ramp(1.0), -0.1, 0.0)
    with pytest.raises(ValueError):
        trim(ramp(1.0), float("nan"))


def test_trim_takes_exact_frames_and_never_pads() -> None:
    audio = ramp(3.0)
    out = trim(audio, 1.5, start_s=0.5)
    assert out.frames == round(1.5 * SR)
    np.testing.assert_array_equal(out.samples, audio.samples[:, round(0.5 * SR) : round(2.0 * SR)])
    assert trim(audio, 10.0).frames == audio.frames
    assert trim(audio, 1.0, start_s=5.0).frames == 0


def test_pad_appends_silence() -> None:
    audio = ramp(1.0)
    out = pad(audio, 1.5)
    assert out.frames == round(1.5 * SR)
    assert not out.samples[:, audio.frames :].any()
    assert pad(audio, 0.5) is audio


def test_loop_without_crossfade_is_plain_repetition() -> None:
    audio = ramp(1.0)
    out = loop_to(audio, 3.5, crossfade_s=0.0)
    assert out.frames == round(3.5 * SR)
    expected = np.tile(audio.samples, (1, 4))[:, : out.frames]
    np.testing.assert_array_equal(out.samples, expected)


def test_loop_with_crossfade_repeats_material_and_blends_the_seams() -> None:
    audio = noise(1.0, seed=1)
    xf = round(0.1 * SR)
    out = loop_to(audio, 4.0, crossfade_s=0.1)
    assert out.frames == 4 * SR
    step = audio.frames - xf
    # outside the seams every copy is the original material, shifted by one step
    np.testing.assert_allclose(out.samples[:, xf:step], audio.samples[:, xf:step], atol=1e-6)
    np.testing.assert_allclose(out.samples[:, step + xf : 2 * step], audio.samples[:, xf:step], atol=1e-6)
    # in the seam both ends are heard: equal-power keeps the level of uncorrelated noise
    seam = out.samples[:, step : step + xf]
    assert np.sqrt(np.mean(seam**2)) == pytest.approx(np.sqrt(np.mean(audio.samples**2)), rel=0.15)


def test_loop_cuts_material_that_is_already_long_enough() -> None:
    audio = ramp(3.0)
    np.testing.assert_array_equal(loop_to(audio, 2.0).samples, audio.samples[:, : 2 * SR])
    with pytest.raises(ValueError):
        loop_to(Audio.from_array(np.zeros((2, 0)), SR), 1.0)


@pytest.mark.parametrize("seconds", [2.0, 2.9, 7.3, 0.0])
def test_fit_length_is_always_exact(seconds: float) -> None:
    assert fit_length(ramp(3.0), seconds).frames == round(seconds * SR)


def test_fit_length_cuts_long_audio_with_a_fade_out() -> None:
    audio = ramp(30.0, sr=800)
    out = fit_length(audio, 20.0, fade_out_s=2.0)
    np.testing.assert_array_equal(out.samples[:, : 18 * 800], audio.samples[:, : 18 * 800])
    assert np.abs(out.samples[:, -1]).max() < 0.01
    assert np.abs(out.samples[:, 19 * 800]).max() < np.abs(audio.samples[:, 19 * 800]).max()


def test_fit_length_pads_a_small_shortfall_with_silence() -> None:
    audio = ramp(9.5)
    out = fit_length(audio, 10.0)
    assert out.frames == 10 * SR
    assert not out.samples[:, audio.frames :].any()  # silence, not a loop seam in the last half second
    np.testing.assert_array_equal(out.samples[:, : SR], audio.samples[:, : SR])
    assert np.abs(out.samples[:, audio.frames - 1]).max() < 0.01  # de-clicked before the silence


def test_fit_length_loops_a_large_shortfall_and_fades_it_out() -> None:
    audio = noise(2.0, seed=2)
    out = fit_length(audio, 9.0, fade_out_s=1.0)
    assert out.frames == 9 * SR
    middle = out.samples[:, 5 * SR : 7 * SR]
    assert np.sqrt(np.mean(middle**2)) > 0.2  # music there, not padding
    assert np.abs(out.samples[:, -1]).max() < 0.02


def test_concat_crossfade_lengths_channels_and_order() -> None:
    a, b, c = ramp(1.0, channels=1), noise(2.0, seed=3), ramp(1.5)
    out = concat_crossfade([a, b, c], 0.25)
    xf = round(0.25 * SR)
    assert out.channels == 2  # the mono part was widened
    assert out.frames == a.frames + b.frames + c.frames - 2 * xf
    np.testing.assert_allclose(out.samples[0, : a.frames - xf], a.samples[0, : a.frames - xf])
    np.testing.assert_allclose(out.samples[1, : a.frames - xf], a.samples[0, : a.frames - xf])
    np.testing.assert_allclose(out.samples[:, -(c.frames - xf) :], c.samples[:, xf:])


def test_concat_crossfade_never_lets_a_part_vanish() -> None:
    short = ramp(0.2)
    out = concat_crossfade([ramp(2.0), short, ramp(2.0)], 1.0)
    # each seam is at most half the short part, so its middle is heard alone
    assert out.frames == 4 * SR + short.frames - 2 * (short.frames // 2)


def test_concat_crossfade_errors() -> None:
    with pytest.raises(ValueError):
        concat_crossfade([], 0.1)
    with pytest.raises(ValueError, match="sample rates"):
        concat_crossfade([ramp(1.0), ramp(1.0, sr=16_000)], 0.1)
    assert concat_crossfade([ramp(1.0)], 0.5).frames == SR


def test_resample_keeps_duration_and_pitch() -> None:
    audio = tone(1000.0, 1.0, 44_100)
    out = resample(audio, 48_000)
    assert out.sample_rate == 48_000 and out.frames == 48_000
    assert peak_hz(out) == pytest.approx(1000.0, abs=2.0)
    assert resample(out, 48_000) is out
    with pytest.raises(ValueError):
        resample(out, 0)
