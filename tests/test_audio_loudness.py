"""BS.1770-4 loudness against reference values, and normalisation with the peak limiter."""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.audio.loudness import (
    integrated_loudness,
    k_weighting_filters,
    limit_peaks,
    normalize_loudness,
    peak_db,
)
from services.audio.types import Audio


def sine(freq: float, dbfs: float, seconds: float, sr: int = 48_000) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    return 10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t)


def stereo(x: np.ndarray, sr: int = 48_000) -> Audio:
    return Audio.from_array(np.stack([x, x]), sr)


def music_like(seconds: float, level: float, sr: int = 44_100, seed: int = 0, drive: float = 0.0) -> Audio:
    """Kick-like bursts, a chord and noisy hats: a peaky signal like the backends produce.

    `drive` > 0 saturates it into a dense, "mastered-loud" signal.
    """
    rng = np.random.default_rng(seed)
    n = round(seconds * sr)
    t = np.arange(n) / sr
    beat = (t * 2.0) % 1.0  # 120 bpm
    kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-beat * 30)) * t) * np.exp(-beat * 8)
    chord = sum(0.2 * np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6))
    hats = rng.standard_normal(n) * np.exp(-((t * 4.0) % 1.0) * 40) * 0.3
    left = kick + chord + hats
    right = 0.8 * kick + chord + rng.standard_normal(n) * np.exp(-((t * 4.0 + 0.5) % 1.0) * 40) * 0.3
    mix = np.stack([left, right])
    if drive > 0:
        mix = np.tanh(drive * mix / np.abs(mix).max())
    return Audio.from_array(level * mix / np.abs(mix).max(), sr)


def test_k_weighting_matches_the_bs1770_coefficient_table_at_48k() -> None:
    (shelf_b, shelf_a), (hp_b, hp_a) = k_weighting_filters(48_000)
    np.testing.assert_allclose(shelf_b, [1.53512485958697, -2.69169618940638, 1.19839281085285], atol=1e-9)
    np.testing.assert_allclose(shelf_a, [1.0, -1.69065929318241, 0.73248077421585], atol=1e-9)
    np.testing.assert_allclose(hp_b, [1.0, -2.0, 1.0])
    np.testing.assert_allclose(hp_a, [1.0, -1.99004745483398, 0.99007225036621], atol=1e-9)


@pytest.mark.parametrize("sr", [44_100, 48_000])
def test_full_scale_1khz_sine_in_one_channel_reads_minus_3_01(sr: int) -> None:
    # BS.1770-4: a 0 dB FS 1 kHz sine applied to the left, centre or right channel input reads -3.01 LKFS
    x = sine(1000.0, 0.0, 5.0, sr)
    assert integrated_loudness(Audio.from_array(x, sr)) == pytest.approx(-3.01, abs=0.03)
    assert integrated_loudness(Audio.from_array(np.stack([x, 0 * x]), sr)) == pytest.approx(-3.01, abs=0.03)


def test_minus_20_dbfs_tone_is_minus_23_per_channel_and_channels_add_in_power() -> None:
    x = sine(1000.0, -20.0, 10.0)
    mono = integrated_loudness(Audio.from_array(x, 48_000))
    both = integrated_loudness(stereo(x))
    assert mono == pytest.approx(-23.01, abs=0.03)
    assert both - mono == pytest.approx(10 * math.log10(2), abs=0.01)  # two equal channels: +3.01 LU


def test_ebu_3341_case_1_stereo_997hz_at_minus_23_dbfs() -> None:
    assert integrated_loudness(stereo(sine(997.0, -23.0, 20.0))) == pytest.approx(-23.0, abs=0.1)


def test_ebu_3341_case_3_relative_gate_ignores_quiet_parts() -> None:
    x = np.concatenate([sine(1000.0, -36.0, 10.0), sine(1000.0, -23.0, 60.0), sine(1000.0, -36.0, 10.0)])
    assert integrated_loudness(stereo(x)) == pytest.approx(-23.0, abs=0.1)


def test_ebu_3341_case_4_absolute_and_relative_gates_together() -> None:
    parts = [(-72.0, 10.0), (-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0), (-72.0, 10.0)]
    x = np.concatenate([sine(1000.0, db, s) for db, s in parts])
    assert integrated_loudness(stereo(x)) == pytest.approx(-23.0, abs=0.1)


def test_ebu_3341_case_5_loud_middle_section_is_averaged_not_gated() -> None:
    x = np.concatenate([sine(1000.0, -26.0, 20.0), sine(1000.0, -20.0, 20.1), sine(1000.0, -26.0, 20.0)])
    assert integrated_loudness(stereo(x)) == pytest.approx(-23.0, abs=0.1)


def test_without_gating_quiet_parts_would_pull_the_value_down() -> None:
    loud = sine(1000.0, -23.0, 10.0)
    quiet = sine(1000.0, -50.0, 30.0)
    gated = integrated_loudness(stereo(np.concatenate([loud, quiet])))
    ungated_power = (10 ** (-23 / 10) * 10 + 10 ** (-50 / 10) * 30) / 40
    assert gated == pytest.approx(-23.0, abs=0.1)
    assert 10 * math.log10(ungated_power) < -28  # what a plain average would have said


def test_silence_and_sub_gate_signals_are_minus_infinity() -> None:
    assert integrated_loudness(Audio.from_array(np.zeros((2, 48_000)), 48_000)) == -math.inf
    assert integrated_loudness(Audio.from_array(np.zeros((2, 0)), 48_000)) == -math.inf
    assert integrated_loudness(stereo(sine(1000.0, -80.0, 3.0))) == -math.inf


def test_clips_shorter_than_one_block_are_still_measured() -> None:
    x = sine(1000.0, -20.0, 0.25)
    assert integrated_loudness(Audio.from_array(x, 48_000)) == pytest.approx(-23.0, abs=0.1)


def test_surround_channels_of_a_5_1_layout_weigh_1_41() -> None:
    x = sine(1000.0, -20.0, 3.0)
    front = np.zeros((6, x.size))
    front[0] = x
    rear = np.zeros((6, x.size))
    rear[4] = x
    lfe = np.zeros((6, x.size))
    lfe[3] = x
    l_front = integrated_loudness(Audio.from_array(front, 48_000))
    l_rear = integrated_loudness(Audio.from_array(rear, 48_000))
    assert l_rear - l_front == pytest.approx(10 * math.log10(1.41), abs=0.01)
    assert integrated_loudness(Audio.from_array(lfe, 48_000)) == -math.inf  # the LFE does not count


def test_nan_and_inf_are_rejected() -> None:
    bad = np.zeros((2, 48_000), dtype=np.float32)
    bad[0, 10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        integrated_loudness(Audio(bad, 48_000))
    bad[0, 10] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        normalize_loudness(Audio(bad, 48_000))


@pytest.mark.parametrize(("level", "drive"), [(0.99, 4.0), (0.003, 0.0)], ids=["loud", "quiet"])
def test_normalisation_hits_target_and_stays_under_the_ceiling(level: float, drive: float) -> None:
    audio = music_like(12.0, level, drive=drive)
    before = integrated_loudness(audio)
    out = normalize_loudness(audio, target_lufs=-14.0, peak_ceiling_db=-1.0)
    assert abs(before + 14.0) > 5  # the material really started far from the target
    assert integrated_loudness(out) == pytest.approx(-14.0, abs=0.5)
    assert peak_db(out) <= -1.0 + 1e-6
    assert out.samples.shape == audio.samples.shape and out.sample_rate == audio.sample_rate
    assert out.samples.dtype == np.float32


def test_very_peaky_material_is_limited_to_the_ceiling_and_still_near_target() -> None:
    audio = music_like(10.0, 0.5, seed=3)
    spiky = audio.samples.copy()
    spiky[:, ::22_050] = 1.0  # a click every half second: would need far more than 0 dBFS at -9 LUFS
    out = normalize_loudness(Audio(spiky, audio.sample_rate), target_lufs=-9.0, peak_ceiling_db=-2.0)
    assert peak_db(out) <= -2.0 + 1e-6
    assert integrated_loudness(out) == pytest.approx(-9.0, abs=0.5)


def test_silence_stays_silence() -> None:
    silent = Audio(np.zeros((2, 44_100), dtype=np.float32))
    out = normalize_loudness(silent)
    assert not out.samples.any()
    nearly = Audio.from_array(np.full((2, 44_100), 1e-6), 44_100)
    assert np.array_equal(normalize_loudness(nearly).samples, nearly.samples)  # below the -70 LUFS gate


def test_limiter_shapes_with_a_smooth_gain_rather_than_clipping() -> None:
    sr = 44_100
    step = sr // 2
    x = np.sin(2 * np.pi * 100.0 * np.arange(sr) / sr) * np.where(np.arange(sr) < step, 0.5, 2.0)
    audio = Audio.from_array(np.stack([x, 0.5 * x]), sr)
    out = limit_peaks(audio, -1.0)
    assert np.abs(out.samples).max() <= 10 ** (-1 / 20) + 1e-7
    loud = np.abs(x) > 0.2
    gain = out.samples[0][loud] / x[loud]
    # the same gain on both channels (the stereo image holds) ...
    np.testing.assert_allclose(out.samples[1][loud] / (0.5 * x[loud]), gain, atol=1e-5)
    # ... and no step: a clipper would flatten every crest, i.e. jump between neighbouring samples
    idx = np.flatnonzero(loud)
    neighbours = np.diff(idx) == 1
    assert np.abs(np.diff(gain)[neighbours]).max() < 0.002
    # look-ahead: the gain is already going down before the jump, and is fully down at the first crest after
    ceiling = 10 ** (-1 / 20)
    before = out.samples[0][step - 100 : step] / x[step - 100 : step]
    assert before.max() < 0.999
    first_crest = step + int(np.argmax(np.abs(x[step : step + 441])))
    assert out.samples[0][first_crest] / x[first_crest] <= ceiling / 2.0 + 1e-5
    # far from the jump, the quiet part is left alone
    np.testing.assert_allclose(out.samples[0][: step - sr // 5], x[: step - sr // 5], atol=1e-6)


def test_audio_under_the_ceiling_passes_the_limiter_untouched() -> None:
    audio = music_like(2.0, 0.5)
    assert limit_peaks(audio, -1.0) is audio


def test_invalid_targets_are_rejected() -> None:
    audio = music_like(1.0, 0.5)
    with pytest.raises(ValueError):
        normalize_loudness(audio, target_lufs=float("nan"))
    with pytest.raises(ValueError):
        normalize_loudness(audio, peak_ceiling_db=1.0)
