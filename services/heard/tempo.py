"""Tempo from an onset envelope: autocorrelation for the period, a comb over the whole piece for the
exact value, and the beat level chosen the way listeners tap (a prior around 110 bpm, and the stated
tempo when there is one, so 'asked 70, heard 140' is named an octave error instead of a miss).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.heard.report import LEVELS  # half, dotted and double beat levels

MIN_BPM, MAX_BPM = 40.0, 240.0
PRIOR_BPM = 110.0  # where listeners' tapping tempo concentrates (log-normal, one octave wide)
PRIOR_OCTAVES = 1.0


@dataclass(frozen=True)
class TempoReading:
    bpm: float | None  # None: no steady pulse
    confidence: float  # 0–1: how much the chosen period stands out of the envelope's autocorrelation
    candidates: tuple[float, ...]  # the same pulse at other levels (half, dotted, double), best first


def _comb_strength(env: npt.NDArray[np.float64], frame_rate: float, bpm: float, phases: int = 48) -> float:
    """How strongly `env` pulses at `bpm`: fold it at the period and compare the best phase to the mean."""
    period = 60.0 * frame_rate / bpm
    positions = np.arange(env.size) / period
    bins = ((positions - np.floor(positions)) * phases).astype(np.intp) % phases
    sums = np.bincount(bins, weights=env, minlength=phases).astype(np.float64)
    counts = np.bincount(bins, minlength=phases).astype(np.float64)
    folded = sums / np.maximum(counts, 1.0)
    mean = float(env.mean()) or 1e-9
    # a beat spreads over a frame or two: the best two neighbouring phase bins
    best = float(np.max(folded + np.roll(folded, 1))) / 2.0
    return best / mean - 1.0


def _refine(env: npt.NDArray[np.float64], frame_rate: float, bpm: float, spread: float = 0.02) -> float:
    """The bpm within ±`spread` of `bpm` at which the comb pulses hardest, to 0.01 bpm."""
    grid = np.arange(bpm * (1 - spread), bpm * (1 + spread), 0.05)
    scores = np.array([_comb_strength(env, frame_rate, b) for b in grid])
    best = int(np.argmax(scores))
    fine = np.arange(grid[best] - 0.05, grid[best] + 0.05, 0.01)
    return float(fine[int(np.argmax([_comb_strength(env, frame_rate, b) for b in fine]))])


def estimate_tempo(
    env: npt.NDArray[np.float64], frame_rate: float, *, stated: float | None = None
) -> TempoReading:
    if env.size < frame_rate * 3 or float(env.max(initial=0.0)) <= 0:
        return TempoReading(None, 0.0, ())
    centred = env - env.mean()
    acf = np.correlate(centred, centred, mode="full")[centred.size - 1 :]
    acf = acf / (acf[0] or 1.0)
    lo = int(60.0 * frame_rate / MAX_BPM)
    hi = min(acf.size - 1, int(60.0 * frame_rate / MIN_BPM))
    lags = np.arange(lo, hi)
    if lags.size == 0:
        return TempoReading(None, 0.0, ())
    # a period also shows at its multiples: reward lags whose double and triple agree
    score = acf[lags].copy()
    for k in (2, 3):
        idx = lags * k
        ok = idx < acf.size
        score[ok] += 0.5 * acf[idx[ok]]
    bpms = 60.0 * frame_rate / lags
    prior = np.exp(-0.5 * (np.log2(bpms / PRIOR_BPM) / PRIOR_OCTAVES) ** 2)
    best_lag = int(lags[int(np.argmax(score * (0.5 + prior)))])
    confidence = float(max(0.0, min(1.0, acf[best_lag])))
    if confidence < 0.05:
        return TempoReading(None, confidence, ())
    base = _refine(env, frame_rate, 60.0 * frame_rate / best_lag)
    levels = sorted(
        {round(base * k, 3) for k in LEVELS if MIN_BPM <= base * k <= MAX_BPM},
        key=lambda b: -_comb_strength(env, frame_rate, b) * (0.5 + _prior(b)),
    )
    if stated is not None and MIN_BPM <= stated <= MAX_BPM:
        # The level the user asked for, when the music pulses there at all (it is the same beat at
        # another level, not a miss): searched within ±8%, the most a correction would stretch.
        near = _refine(env, frame_rate, stated, spread=0.08)
        strongest = max((_comb_strength(env, frame_rate, b) for b in levels), default=0.0)
        if _comb_strength(env, frame_rate, near) >= 0.5 * strongest:
            return TempoReading(near, confidence, tuple(levels))
    chosen = _refine(env, frame_rate, levels[0]) if levels else base
    return TempoReading(chosen, confidence, tuple(levels))


def _prior(bpm: float) -> float:
    return float(np.exp(-0.5 * (np.log2(bpm / PRIOR_BPM) / PRIOR_OCTAVES) ** 2))


def octave_error(heard: float, asked: float, tolerance_bpm: float = 1.0) -> bool:
    """True when `heard` is `asked` at another beat level (half, double, dotted) rather than a miss."""
    for k in LEVELS:
        if k != 1.0 and abs(heard - asked * k) <= tolerance_bpm * max(1.0, k):
            return True
    return False
