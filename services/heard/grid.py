"""Where the beats fall: the phase of a known tempo's beat grid in a piece, and which beat is the
downbeat, so a jam can start every segment on its bar line instead of wherever the model began.

The onset envelope is folded at the beat period; the best phase (interpolated between bins) is the
beat. The downbeat is the beat of the bar that is accented most — all onsets, plus the bass band
on its own, since kicks and bass notes mark the one — and it is only trusted when it stands out;
otherwise the first beat is used and `accented` says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.audio.types import Audio
from services.heard.onsets import HOP, N_FFT, RATE, Spectrum, onset_envelope, spectrum

PHASES = 64  # bins of the folded beat period
ACCENT = 1.3  # a downbeat stands out when its fold is this many times the bar's other beats' mean
# Log spectral flux jumps as soon as an onset enters a frame's window, at its tail: frame n (which starts
# at sample n·HOP) hears time n·HOP/RATE + ONSET_LAG_S (within 2 ms on clicks, tests/test_heard_grid.py).
ONSET_LAG_S = (N_FFT - HOP / 2) / RATE


@dataclass(frozen=True)
class BeatGrid:
    """The grid at a known tempo, as heard."""

    first_beat_s: float  # 0 <= first_beat_s < one beat
    downbeat_s: float  # 0 <= downbeat_s < one bar: the first beat heard as a bar's one
    strength: float  # how much the folded beat stands out of the envelope's mean (0: no pulse)
    accented: bool  # one beat of the bar stood out; otherwise downbeat_s is the first beat


def _fold(env: npt.NDArray[np.float64], period: float, phase0: float = 0.0) -> npt.NDArray[np.float64]:
    """Mean envelope per phase bin of `period` frames (phase 0 at frame `phase0`)."""
    positions = (np.arange(env.size) - phase0) / period
    bins = ((positions - np.floor(positions)) * PHASES).astype(np.intp) % PHASES
    sums = np.bincount(bins, weights=env, minlength=PHASES)
    counts = np.bincount(bins, minlength=PHASES)
    return np.asarray(sums / np.maximum(counts, 1), dtype=np.float64)


def _peak_phase(folded: npt.NDArray[np.float64]) -> float:
    """The fold's peak in bins, between bins by a parabola through its neighbours (circular)."""
    smooth = folded + 0.5 * (np.roll(folded, 1) + np.roll(folded, -1))
    k = int(np.argmax(smooth))
    left, mid, right = smooth[k - 1], smooth[k], smooth[(k + 1) % PHASES]
    denom = left - 2.0 * mid + right
    offset = 0.5 * (left - right) / denom if denom < 0 else 0.0
    return (k + float(np.clip(offset, -0.5, 0.5))) % PHASES


def beat_grid(audio: Audio, bpm: float, beats_per_bar: int = 4) -> BeatGrid:
    """The beat and downbeat of `audio` played at `bpm` (its tempo is known: stated, or measured)."""
    spec = spectrum(audio)
    return grid_of(spec, onset_envelope(spec), bpm, beats_per_bar)


def grid_of(spec: Spectrum, env: npt.NDArray[np.float64], bpm: float, beats_per_bar: int = 4) -> BeatGrid:
    """beat_grid from a spectrum and onset envelope already made (services/heard/onsets.py)."""
    frame_rate = spec.frame_rate
    period = 60.0 * frame_rate / bpm
    if env.size < 2 * period or float(env.max(initial=0.0)) <= 0:
        return BeatGrid(0.0, 0.0, 0.0, False)
    folded = _fold(env, period)
    phase = _peak_phase(folded)
    mean = float(env.mean()) or 1e-9
    strength = float(np.max(folded)) / mean - 1.0
    beat_frame = phase / PHASES * period
    beat_s = (beat_frame / frame_rate + ONSET_LAG_S) % (60.0 / bpm)

    # which beat of the bar is the one: how much energy arrives on it, in all and in the bass band
    loud, bass = _energy_flux(spec, 30.0, RATE / 2), _energy_flux(spec, 30.0, 200.0)
    bar = period * beats_per_bar
    weights = []
    for k in range(beats_per_bar):
        at = beat_frame + k * period
        weights.append(_strength_at(loud, at, bar) + _strength_at(bass, at, bar))
    best = int(np.argmax(weights))
    others = [w for i, w in enumerate(weights) if i != best]
    accented = beats_per_bar > 1 and weights[best] > ACCENT * (float(np.mean(others)) or 1e-9)
    down_s = beat_s + (best if accented else 0) * 60.0 / bpm
    return BeatGrid(beat_s, down_s, max(0.0, strength), bool(accented))


def _energy_flux(spec: Spectrum, low_hz: float, high_hz: float) -> npt.NDArray[np.float64]:
    """Rise of power per frame in a band, peak 1: unlike the log flux it keeps how loud each onset is,
    which is what an accent is."""
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / RATE)
    band = spec.magnitude[(freqs >= low_hz) & (freqs <= high_hz)].astype(np.float64) ** 2
    rise = np.maximum(0.0, np.diff(band.sum(axis=0), prepend=0.0))
    peak = float(rise.max(initial=0.0))
    return rise / peak if peak > 0 else rise


def _strength_at(env: npt.NDArray[np.float64], frame: float, bar: float) -> float:
    """Mean envelope within a frame of `frame` + every whole bar after it."""
    centres = np.arange(frame, env.size, bar)
    idx = np.rint(centres).astype(np.intp)
    idx = np.concatenate([idx - 1, idx, idx + 1])
    idx = idx[(idx >= 0) & (idx < env.size)]
    return float(env[idx].mean()) if idx.size else 0.0
