"""The lead melody: a one-bar motif, varied through four-bar phrases.

A motif is a rhythm plus a contour in scale steps, so every transposition,
inversion or sequence stays inside the allowed pitch classes by construction.
Phrases go call (motif) → answer (a variation) → motif again → cadence (a long
chord tone); the piece ends on the tonic, held to the end.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from services.backends.styles.bars import Bar
from services.backends.styles.harmony import Tonality
from services.backends.styles.rhythm import melodic_cells, pulses, swung
from services.score.model import Note


@dataclass(frozen=True)
class Motif:
    """A bar-long figure: note lengths (negative = rest) and scale-step offsets from its first note."""

    lengths: tuple[float, ...]  # beats per event; a negative length is a rest
    steps: tuple[int, ...]  # scale-step offset of each event from the first note (ignored for rests)
    start: int  # scale degree (from the tonic) the motif was conceived on


@dataclass(frozen=True)
class MelodyStyle:
    """What the melody writer needs beyond the bars."""

    low: int  # lowest MIDI pitch allowed
    high: int  # highest MIDI pitch allowed
    density: float  # the genre's melodic busyness 0 … 1
    swing: float  # 0 straight … 0.33 triplet
    time_signature: tuple[int, int]  # metre, for pulse positions
    solo: bool  # whether the lead is the only melodic part (then it plays in intros too)


_STEP_CHOICES = (-1, 1, -1, 1, 0, 2, -2, 1, -1, 3, -3, 4)


def make_motif(time_signature: tuple[int, int], density: float, rng: random.Random) -> Motif:
    """Draw a fresh motif: a rhythm from the metre's pulses and a mostly stepwise contour."""
    lengths: list[float] = []
    for pulse in pulses(time_signature):
        lengths.extend(melodic_cells(pulse, density, rng))
    if all(x < 0 for x in lengths):
        lengths[0] = -lengths[0]
    steps: list[int] = []
    cur = 0
    for _ in lengths:
        steps.append(cur)
        cur = max(-4, min(6, cur + rng.choice(_STEP_CHOICES)))
    return Motif(tuple(lengths), tuple(steps), rng.choice((0, 2, 4)))


def invert(m: Motif) -> Motif:
    """Mirror the contour (up becomes down)."""
    return Motif(m.lengths, tuple(-s for s in m.steps), m.start)


def retrograde(m: Motif) -> Motif:
    """Play the figure backwards, rhythm and contour both."""
    last = m.steps[-1]
    return Motif(tuple(reversed(m.lengths)), tuple(s - last for s in reversed(m.steps)), m.start)


def vary_rhythm(m: Motif, rng: random.Random) -> Motif:
    """Split one long note or merge two short ones, keeping the contour's shape."""
    lengths, steps = list(m.lengths), list(m.steps)
    i = rng.randrange(len(lengths))
    if lengths[i] >= 1.0:
        half = lengths[i] / 2
        lengths[i : i + 1] = [half, half]
        steps[i : i + 1] = [steps[i], steps[i] + rng.choice((-1, 1))]
    elif i + 1 < len(lengths) and lengths[i] > 0 and lengths[i + 1] > 0:
        lengths[i : i + 2] = [lengths[i] + lengths[i + 1]]
        steps[i : i + 2] = [steps[i]]
    return Motif(tuple(lengths), tuple(steps), m.start)


def _chord_degrees(bar: Bar, tonality: Tonality) -> set[int]:
    """Scale indices (0 … n-1) of the bar's chord tones."""
    rel = {(pc - tonality.tonic) % 12 for pc in bar.chord.tones}
    return {i for i, s in enumerate(tonality.steps) if s in rel}


def _nearest_chord_degree(d: int, chord_idx: set[int], n: int, limit: int = 3) -> int:
    for delta in (0, -1, 1, -2, 2, 3, -3)[: 2 * limit + 1]:
        if (d + delta) % n in chord_idx:
            return d + delta
    return d


class MelodyWriter:
    """Writes the lead over the bar grid; one instance per piece (it remembers the motifs)."""

    def __init__(self, tonality: Tonality, style: MelodyStyle, rng: random.Random) -> None:
        self.t = tonality
        self.style = style
        self.rng = rng
        self.n = len(tonality.steps)
        self.base = style.low + (tonality.tonic - style.low) % 12  # the tonic at the bottom of the range
        self.motifs: dict[str, Motif] = {}
        # "Home" is a little above the bottom of the range; the line wanders from it and is pulled back.
        self.home = tonality.degree_of(min(style.high, style.low + 12), self.base)
        self.prev_degree = self.home

    def _motif(self, kind: str, energy: float) -> Motif:
        key = {"intro": "A", "outro": "A", "loop": "A"}.get(kind, kind)
        if key not in self.motifs:
            extra = {"B": 0.15, "C": 0.05}.get(key, 0.0)
            density = min(1.0, max(0.05, self.style.density * (0.6 + 0.8 * energy) + extra))
            motif = make_motif(self.style.time_signature, density, self.rng)
            if key == "C" and "B" in self.motifs:
                motif = invert(self.motifs["B"])
            self.motifs[key] = motif
        return self.motifs[key]

    def _pitch(self, degree: int) -> int:
        p = self.t.degree_pitch(degree, self.base)
        while p > self.style.high:
            p -= 12
        while p < self.style.low:
            p += 12
        return p

    def _variant(self, motif: Motif, phrase_pos: int) -> Motif:
        if phrase_pos == 1:
            pick = self.rng.random()
            if pick < 0.35:
                return invert(motif)
            if pick < 0.55:
                return retrograde(motif)
            return vary_rhythm(motif, self.rng)
        if phrase_pos == 2 and self.rng.random() < 0.4:
            return vary_rhythm(motif, self.rng)
        return motif

    def _plays(self, bar: Bar) -> bool:
        if self.style.solo or bar.final:
            return True
        if bar.kind == "intro":
            return False
        if bar.kind == "outro":
            return bar.in_section < max(1, bar.section.bars // 2)
        if bar.kind == "loop":
            return bar.energy >= 0.25 or bar.in_section % 2 == 0
        return True

    def bar_notes(self, bar: Bar) -> list[Note]:
        """The lead's notes in one bar."""
        if not self._plays(bar):
            return []
        if bar.final:
            return [self._final(bar)]
        motif = self._variant(self._motif(bar.kind, bar.energy), bar.in_section % 4)
        cadence = bar.in_section % 4 == 3 or bar.section_end
        chord_idx = _chord_degrees(bar, self.t)
        # Transpose so the first note is a chord tone near where the line already is.
        lift = 2 if bar.kind == "B" else 0
        target = round(0.7 * self.prev_degree + 0.3 * self.home) + lift
        options = [d for d in range(target - 4, target + 5) if d % self.n in chord_idx] or [target]
        first = min(options, key=lambda d: (abs(d - target), d))
        notes: list[Note] = []
        t = 0.0
        events = list(zip(motif.lengths, motif.steps, strict=True))
        if cadence:  # keep the first half, then hold a chord tone
            half = sum(abs(x) for x in motif.lengths) / 2
            kept: list[tuple[float, int]] = []
            acc = 0.0
            for length, step in events:
                if acc >= half - 1e-9:
                    break
                kept.append((length, step))
                acc += abs(length)
            if bar.length - acc > 1e-6:
                kept.append((bar.length - acc, kept[-1][1] if kept else 0))
            events = kept
        starts = set(_pulse_offsets(self.style.time_signature))
        vel_base = 58 + 45 * bar.energy
        for i, (length, step) in enumerate(events):
            if length < 0:
                t += -length
                continue
            degree = first + step
            on_pulse = any(abs(t - s) < 1e-6 for s in starts)
            last = i == len(events) - 1
            if (on_pulse and self.rng.random() < 0.75) or (last and cadence):
                degree = _nearest_chord_degree(degree, chord_idx, self.n)
            velocity = vel_base + (8 if t == 0 else 4 if on_pulse else 0) + self.rng.randint(-4, 4)
            dur = length * (0.92 if not last else 1.0)
            start, dur = swung(t, dur, self.style.swing)
            notes.append(Note(self._pitch(degree), bar.start + start, dur, _vel(velocity)))
            self.prev_degree = self.t.degree_of(notes[-1].pitch, self.base)
            t += length
        return notes

    def _final(self, bar: Bar) -> Note:
        """The tonic, nearest to where the line is, held until the end."""
        here = self.t.degree_pitch(self.prev_degree, self.base)
        candidates = [p for p in range(self.style.low, self.style.high + 1) if p % 12 == self.t.tonic]
        pitch = min(candidates, key=lambda p: abs(p - here)) if candidates else self._pitch(0)
        return Note(pitch, bar.start, bar.length, _vel(62 + 35 * bar.energy))

    def write(self, bars: Sequence[Bar]) -> list[Note]:
        notes: list[Note] = []
        for bar in bars:
            notes.extend(self.bar_notes(bar))
        return notes


def _pulse_offsets(time_signature: tuple[int, int]) -> list[float]:
    out, t = [], 0.0
    for p in pulses(time_signature):
        out.append(t)
        t += p
    return out


def _vel(v: float) -> int:
    return max(1, min(127, int(round(v))))


def harmony_line(
    lead: Sequence[Note], tonality: Tonality, low: int, high: int, shift: int = -2
) -> list[Note]:
    """A second lead a third below (in scale steps), for pieces asking for two melodic voices."""
    base = low + (tonality.tonic - low) % 12
    out: list[Note] = []
    for n in lead:
        d = tonality.degree_of(n.pitch, base) + shift
        p = tonality.degree_pitch(d, base)
        while p > high:
            p -= 12
        while p < low:
            p += 12
        out.append(Note(p, n.start, n.duration, max(1, n.velocity - 10)))
    return out
