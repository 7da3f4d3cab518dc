"""Metre and time feel: where the pulses of a bar fall, and how swing bends them.

Every part (melody, bass, comping, drums) asks this module where the strong
pulses are, so 3/4, 6/8, 5/4 or 7/8 are honoured by all of them alike.
"""

from __future__ import annotations

import random

_EPS = 1e-9


def bar_beats(time_signature: tuple[int, int]) -> float:
    """Quarter-note beats in one bar: 3/4 → 3, 6/8 → 3, 7/8 → 3.5."""
    num, den = time_signature
    return num * 4.0 / den


def pulses(time_signature: tuple[int, int]) -> tuple[float, ...]:
    """The felt pulses of a bar, as lengths in beats.

    Eighth-note metres group their eighths in threes when they divide evenly
    (6/8, 9/8, 12/8 are compound) and otherwise in twos with one three at the
    end (5/8 → 2+3, 7/8 → 2+2+3), which is how these metres are usually counted.
    """
    num, den = time_signature
    unit = 4.0 / den
    if den < 8:
        return tuple(unit for _ in range(num))
    if num % 3 == 0 and num > 3:
        return tuple(3 * unit for _ in range(num // 3))
    if num <= 3:
        return (num * unit,)
    groups = [2] * (num // 2)
    if num % 2:
        groups[-1] = 3
    return tuple(g * unit for g in groups)


def pulse_starts(time_signature: tuple[int, int]) -> tuple[float, ...]:
    """Offsets in beats of each pulse within a bar."""
    starts: list[float] = []
    t = 0.0
    for p in pulses(time_signature):
        starts.append(t)
        t += p
    return tuple(starts)


def is_compound(time_signature: tuple[int, int]) -> bool:
    """True when pulses split in three (6/8 …): swing makes no sense there."""
    return any(abs(p - 1.5) < _EPS for p in pulses(time_signature))


def swing_time(t: float, swing: float) -> float:
    """Bend a time in beats so off-beat eighths land late.

    The first half of each beat is stretched and the second compressed, so the
    off-beat eighth moves from 0.5 to 0.5 + swing/2 (≈ 2/3 at triplet swing)
    and sixteenths follow proportionally; beat onsets never move.
    """
    if swing <= 0:
        return t
    beat = float(int(t + _EPS))
    p = t - beat
    if p < _EPS:
        return beat
    mid = 0.5 + swing / 2.0
    if p <= 0.5:
        return beat + p / 0.5 * mid
    return beat + mid + (p - 0.5) / 0.5 * (1.0 - mid)


def swung(start: float, duration: float, swing: float) -> tuple[float, float]:
    """Swing a note's start and end together, keeping it positive."""
    if swing <= 0:
        return start, duration
    s = swing_time(start, swing)
    e = swing_time(start + duration, swing)
    return s, max(e - s, 0.05)


def melodic_cells(pulse: float, density: float, rng: random.Random) -> list[float]:
    """Split one pulse into note lengths; denser music splits more often.

    A negative length is a rest. Simple pulses (1 beat) split into eighths or
    sixteenth figures, compound pulses (1.5 beats) into quarter+eighth or three
    eighths, longer pulses (2 beats) into quarters.
    """
    r = rng.random()
    if abs(pulse - 1.5) < _EPS:
        if r < 0.15 * (1 - density):
            return [-1.5]
        if r < 0.45 - 0.2 * density:
            return [1.5]
        if r < 0.8 - 0.2 * density:
            return [1.0, 0.5]
        return [0.5, 0.5, 0.5]
    if pulse >= 2.0 - _EPS:
        half = pulse / 2.0
        if r < 0.5 - 0.3 * density:
            return [pulse]
        return [half, half]
    if pulse < 1.0 - _EPS:  # a half-beat pulse (x/8 metres grouped oddly)
        return [pulse]
    if r < 0.12 * (1 - density):
        return [-pulse]
    if r < 0.55 - 0.35 * density:
        return [pulse]
    if r < 0.9 - 0.2 * density:
        return [pulse / 2, pulse / 2]
    if rng.random() < 0.5:
        return [pulse * 0.75, pulse * 0.25]
    return [pulse / 2, pulse / 4, pulse / 4]
