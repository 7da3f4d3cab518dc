"""Harmony: the allowed pitch classes, chords built from them, and voicings.

Everything melodic is drawn from one `Tonality` — the key's scale, or the
prompt's own pitch set when one is stated — so a constraint such as "only A,
B, C#, F# and G" holds for chords and bass as well as for the melody: chords are
stacks of allowed notes, never borrowed ones.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from services.backends.styles.form import FormSection
from services.backends.styles.profiles import GenreProfile
from services.score.theory import MODES, Key


@dataclass(frozen=True)
class Tonality:
    """The pitch material of a piece."""

    tonic: int  # pitch class the piece resolves to (the key's tonic, or the nearest allowed one)
    steps: tuple[int, ...]  # allowed pitch classes as semitones above the tonic, ascending, starting at 0
    reference: tuple[int, ...]  # a 7-note mode used to read progression degrees (I, IV, V …)
    minor: bool  # whether the tonic chord has a minor third, for chord-quality preferences

    @property
    def pitch_classes(self) -> frozenset[int]:
        return frozenset((self.tonic + s) % 12 for s in self.steps)

    def degree_pitch(self, degree: int, base: int) -> int:
        """MIDI pitch of scale degree `degree` (any integer) counted from the tonic at `base`."""
        n = len(self.steps)
        octave, idx = divmod(degree, n)
        return base + 12 * octave + self.steps[idx]

    def degree_of(self, pitch: int, base: int) -> int:
        """The scale degree at or just below `pitch` (inverse of degree_pitch for allowed pitches)."""
        n = len(self.steps)
        octave, rel = divmod(pitch - base, 12)
        idx = max(i for i, s in enumerate(self.steps) if s <= rel)
        return octave * n + idx


def _circular(a: int, b: int) -> int:
    d = abs(a - b) % 12
    return min(d, 12 - d)


def tonality_for(key: Key, pitch_set: frozenset[int] | None) -> Tonality:
    """The key's scale, or the stated pitch set with the nearest allowed tonic."""
    allowed = frozenset(pc % 12 for pc in pitch_set) if pitch_set else key.pitch_classes()
    tonic = key.tonic if key.tonic in allowed else min(allowed, key=lambda pc: (_circular(pc, key.tonic), pc))
    steps = tuple(sorted((pc - tonic) % 12 for pc in allowed))
    mode_steps: tuple[int, ...] = MODES[key.mode]
    minor = key.is_minor
    if pitch_set and (3 in steps) != (4 in steps):  # the stated notes decide the tonic's third
        minor = 3 in steps
    reference = mode_steps if len(mode_steps) == 7 else MODES["minor" if minor else "major"]
    return Tonality(tonic, steps, reference, minor)


@dataclass(frozen=True)
class Chord:
    """A chord as pitch classes: root first, then third/fifth/seventh or added tones."""

    root: int  # pitch class of the root
    tones: tuple[int, ...]  # pitch classes, root first, no duplicates


def build_chord(root: int, tonality: Tonality, *, sevenths: bool = False) -> Chord:
    """Stack allowed notes on `root`: a third and fifth where allowed, else the nearest substitutes."""
    rel = {(pc - root) % 12 for pc in tonality.pitch_classes}
    thirds = (3, 4) if tonality.minor else (4, 3)
    third = next((i for i in thirds if i in rel), None)
    if third is None:
        third = next((i for i in (5, 2) if i in rel), None)  # sus4 / sus2
    fifth = next((i for i in (7, 6, 8) if i in rel), None)
    intervals = [0] + [i for i in (third, fifth) if i is not None]
    if sevenths or len(intervals) < 3:
        extra = next((i for i in (10, 11, 9, 2) if i in rel and i not in intervals), None)
        if extra is not None:
            intervals.append(extra)
    return Chord(root % 12, tuple((root + i) % 12 for i in intervals))


def _quality(chord: Chord) -> float:
    rel = {(pc - chord.root) % 12 for pc in chord.tones}
    return 2.0 * bool(rel & {3, 4}) + 2.0 * (7 in rel) + 1.0 * bool(rel & {6, 8}) + 0.5 * bool(rel & {2, 5})


def chord_on_degree(tonality: Tonality, degree: int, *, sevenths: bool = False) -> Chord:
    """The chord on progression degree `degree` (0 = I), moved to a nearby allowed root if needed.

    With a stated pitch set the degree's root may be missing; the nearest
    allowed roots are tried and the one carrying the fullest chord wins.
    """
    if degree % 7 == 0:
        return build_chord(tonality.tonic, tonality, sevenths=sevenths)
    target = (tonality.tonic + tonality.reference[degree % 7]) % 12
    allowed = tonality.pitch_classes
    if target in allowed:
        return build_chord(target, tonality, sevenths=sevenths)
    best: tuple[float, int] | None = None
    for pc in sorted(allowed):
        dist = _circular(pc, target)
        if dist > 3 or pc == tonality.tonic:
            continue
        score = _quality(build_chord(pc, tonality)) - 0.75 * dist
        if best is None or score > best[0]:
            best = (score, pc)
    root = best[1] if best else tonality.tonic
    return build_chord(root, tonality, sevenths=sevenths)


def chord_plan(
    sections: Sequence[FormSection], profile: GenreProfile, tonality: Tonality, rng: random.Random
) -> list[Chord]:
    """One chord per bar: an A progression, a contrasting B one, and a cadence to the tonic at the end."""
    choices = profile.minor if tonality.minor else profile.major
    prog_a = rng.choice(choices)
    others = [p for p in choices if p != prog_a]
    prog_b = rng.choice(others) if others else prog_a
    prog_c = tuple(reversed(prog_b)) if len(prog_b) > 1 else prog_a
    per = max(1, profile.bars_per_chord)
    degrees: list[int] = []
    for sec in sections:
        prog = {"B": prog_b, "C": prog_c}.get(sec.kind, prog_a)
        if sec.kind == "loop" and sec.name != "loop 1" and int(sec.name.split()[-1]) % 3 == 0:
            prog = prog_b
        for bar in range(sec.bars):
            degrees.append(prog[(bar // per) % len(prog)])
    if degrees:
        degrees[-1] = 0
    if len(degrees) >= 3:
        degrees[-2] = degrees[-2] if degrees[-2] in (3, 4) else (3 if profile.plagal else 4)
    return [
        chord_on_degree(tonality, d, sevenths=profile.sevenths and i != len(degrees) - 1)
        for i, d in enumerate(degrees)
    ]


def voice(chord: Chord, low: int, high: int, previous: Sequence[int] | None = None) -> tuple[int, ...]:
    """Place the chord's tones within [low, high], close to the previous voicing (smooth voice leading)."""
    tones = list(chord.tones)
    if len(tones) < 3:
        tones = tones + [tones[0]]
    candidates: list[tuple[int, ...]] = []
    for rot in range(len(tones)):
        order = tones[rot:] + tones[:rot]
        first = low + (order[0] - low) % 12
        for start in (first, first + 12):
            pitches = [start]
            for pc in order[1:]:
                p = pitches[-1] + 1 + (pc - pitches[-1] - 1) % 12
                pitches.append(p)
            if pitches[-1] <= high:
                candidates.append(tuple(pitches))
    if not candidates:  # range too narrow for the whole chord: keep what fits, at least the root
        root = low + (chord.root - low) % 12
        return (root,)
    centre = (low + high) / 2
    if previous:
        prev = sorted(previous)

        def cost(c: tuple[int, ...]) -> float:
            return sum(min(abs(p - q) for q in prev) for p in c) + 0.1 * abs(sum(c) / len(c) - centre)
    else:

        def cost(c: tuple[int, ...]) -> float:
            return abs(sum(c) / len(c) - centre)

    return min(candidates, key=cost)
