"""Key and mode from a chroma profile, by correlation with Albrecht and Shanahan's key profiles.

The 24 major and minor keys are each scored by the correlation of the piece's pitch-class energy with
the profile rotated to that tonic; relative keys (C major / A minor) share their notes, so the margin
between the best and the runner-up is the reading's confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# Albrecht & Shanahan (2013), pitch-class distributions of a corpus of major and minor pieces, tonic first.
# On bench/heard.py's styles set they read about 93% of keys where Krumhansl & Kessler's probe-tone
# ratings read 78% and Temperley's 82% (most of those misses were a fifth away).
MAJOR_PROFILE = np.array([0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081])
MINOR_PROFILE = np.array([0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052])
KEY_TIE = 0.01  # correlations this close are the same reading: a piece on A, C, D, E, F is A or D minor
KEY_FMIN, KEY_FMAX = 150.0, 4000.0  # the chroma the key is read from: above the bass, below the cymbals
NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@dataclass(frozen=True)
class KeyReading:
    tonic: int | None  # pitch class 0 = C … 11 = B; None for silence or no tonal centre
    mode: str  # "major" or "minor"
    confidence: float  # best correlation minus the runner-up's (0 = a toss-up)
    correlation: float  # the best key's correlation (−1 … 1)
    close: tuple[str, ...] = ()  # other keys the audio fits within KEY_TIE as well (an ambiguous piece)

    @property
    def name(self) -> str | None:
        return f"{NAMES[self.tonic]} {self.mode}" if self.tonic is not None else None


def estimate_key(chroma: npt.NDArray[np.float64]) -> KeyReading:
    if float(np.sum(chroma)) <= 0:
        return KeyReading(None, "major", 0.0, 0.0)
    weights = np.sqrt(chroma)  # compressed: a loud note should not outvote the harmony
    scores: list[tuple[float, int, str]] = []
    for mode, profile in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
        for tonic in range(12):
            r = float(np.corrcoef(weights, np.roll(profile, tonic))[0, 1])
            scores.append((r if np.isfinite(r) else -1.0, tonic, mode))
    scores.sort(reverse=True)
    best, second = scores[0], scores[1]
    close = tuple(f"{NAMES[t]} {m}" for r, t, m in scores[1:4] if best[0] - r <= KEY_TIE)
    return KeyReading(best[1], best[2], best[0] - second[0], best[0], close)
