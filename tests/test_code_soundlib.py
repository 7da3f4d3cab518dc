"""soundlib: lengths are exact, the grid is sample-accurate, filters do what their names say."""

from __future__ import annotations

import numpy as np

from services.backends.code import soundlib as sl

SR = 8000


def _energy_above(x: np.ndarray, hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    return float(spectrum[np.fft.rfftfreq(len(x), 1 / SR) > hz].sum() / spectrum.sum())


def test_oscillators_have_exact_lengths_and_range() -> None:
    for wave in (sl.sine, sl.saw, sl.triangle, sl.square):
        x = wave(440.0, 0.5, SR)
        assert x.dtype == np.float32 and x.shape == (4000,) and float(np.max(np.abs(x))) <= 1.0
    assert abs(sl.note_hz("A4") - 440.0) < 1e-9 and abs(sl.note_hz("C#5") - sl.midi_to_hz(73)) < 1e-9


def test_grid_places_clips_on_exact_samples() -> None:
    grid = sl.Grid(bpm=120, sr=SR)
    assert grid.at(1) == 4000 and grid.seconds(2) == 1.0
    out = grid.buffer(bars=1)
    click = np.ones(1, dtype=np.float32)
    grid.pattern(out, click, "X...X...", step=0.5)
    assert out.shape == (2, 16000)
    assert list(np.nonzero(out[0])[0]) == [0, 8000]


def test_filters_and_envelopes() -> None:
    noise = sl.noise(1.0, SR, seed=3)
    assert _energy_above(sl.lowpass(noise, 500.0, SR, order=4), 1500.0) < 0.01
    assert _energy_above(sl.highpass(noise, 2000.0, SR, order=4), 1000.0) > 0.95
    env = sl.adsr(1.0, SR, attack=0.1, decay=0.1, sustain=0.5, release=0.2)
    assert env.shape == (SR,) and abs(float(env[SR // 2]) - 0.5) < 1e-6 and float(env[-1]) == 0.0
    echo = sl.delay(np.ones(10, dtype=np.float32), SR, time=0.01, repeats=2, mix=0.5, feedback=0.5)
    assert echo.shape == (170,) and float(echo[80]) == 0.5 and float(echo[160]) == 0.25
    stereo = sl.mix(sl.pan(np.ones(4, dtype=np.float32), -1.0), np.ones(6, dtype=np.float32))
    assert stereo.shape == (2, 6) and float(stereo[1, 0]) < 1.0 + 1e-6
