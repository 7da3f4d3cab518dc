"""Bass, chords, pad and arpeggio: the parts that carry the harmony under the lead.

Each writer turns the bar grid into notes in its own register, with a habit
taken from the genre profile (walking bass, reggae skank, house off-beats …)
and density and velocity taken from the section's energy. Every pitch comes
from the bar's chord, so a stated pitch set holds here too. In the final bar
every part holds the tonic chord to the very end.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from services.backends.styles.bars import Bar
from services.backends.styles.harmony import Tonality, voice
from services.backends.styles.rhythm import pulse_starts, pulses, swung
from services.score.model import Note

# Registers (MIDI pitch ranges) per role.
RANGES: dict[str, tuple[int, int]] = {
    "bass": (28, 52),
    "chords": (48, 72),
    "pad": (52, 76),
    "arp": (60, 84),
    "lead": (60, 88),
}


@dataclass(frozen=True)
class Feel:
    """Timing shared by the accompaniment writers."""

    time_signature: tuple[int, int]  # metre
    swing: float  # 0 straight … 0.33 triplet


def _vel(v: float) -> int:
    return max(1, min(127, int(round(v))))


def _note(bar: Bar, offset: float, length: float, pitch: int, velocity: float, feel: Feel) -> Note | None:
    """A note at `offset` beats into the bar, swung and kept inside the bar."""
    if offset >= bar.length - 1e-6:
        return None
    length = min(length, bar.length - offset)
    start, dur = swung(offset, length, feel.swing)
    dur = min(dur, bar.length - start)
    if dur <= 1e-3:
        return None
    return Note(pitch, round(bar.start + start, 6), round(dur, 6), _vel(velocity))


def _in_range(pc: int, low: int, high: int, near: int) -> int:
    """The pitch of class `pc` within [low, high] nearest to `near`."""
    options = [p for p in range(low, high + 1) if p % 12 == pc % 12]
    return min(options, key=lambda p: (abs(p - near), p))


# ---------------------------------------------------------------- bass


def _bass_pitches(bar: Bar) -> tuple[int, int, int]:
    """Root, fifth-ish (another chord tone) and upper octave for the bar, in the bass register."""
    low, high = RANGES["bass"]
    root = _in_range(bar.chord.root, 33, 47, 40)
    other_pc = bar.chord.tones[2] if len(bar.chord.tones) > 2 else bar.chord.tones[-1]
    other = _in_range(other_pc, low, high, root + 5) if other_pc != bar.chord.root else root
    octave = root + 12 if root + 12 <= high else root
    return root, other, octave


def _bass_offsets(
    style: str, bar_len: float, starts: Sequence[float], energy: float
) -> list[tuple[float, float, int]]:
    """(offset, length, which) with which 0 = root, 1 = other chord tone, 2 = octave."""
    four = abs(bar_len - 4.0) < 1e-6
    if style == "drone" or energy < 0.3:
        return [(0.0, bar_len, 0)]
    if style == "eighths" and energy >= 0.45:
        return [(i * 0.5, 0.45, 0) for i in range(int(bar_len * 2))]
    if style == "octave":
        return [(i * 0.5, 0.45, 2 if i % 2 else 0) for i in range(int(bar_len * 2))]
    if style == "offbeat" and four:
        return [(i + 0.5, 0.45, 0) for i in range(4)]
    if style == "reggae" and four:
        return [(0.0, 1.0, 0), (1.5, 0.5, 1), (2.5, 0.5, 0), (3.0, 0.75, 1)]
    if style == "bossa" and four:
        return [(0.0, 1.4, 0), (1.5, 0.45, 1), (2.0, 1.4, 1), (3.5, 0.45, 0)]
    if style == "funk" and four:
        return [(0.0, 0.5, 0), (0.75, 0.25, 2), (1.5, 0.25, 0), (2.0, 0.5, 0), (2.75, 0.25, 2), (3.5, 0.4, 1)]
    if style in ("pulse", "walking", "eighths", "offbeat", "reggae", "bossa", "funk"):
        lengths = [b - a for a, b in zip(starts, list(starts[1:]) + [bar_len], strict=True)]
        return [(s, ln * 0.9, i % 2) for i, (s, ln) in enumerate(zip(starts, lengths, strict=True))]
    # "root": a long root, and a second chord tone halfway when the section has energy
    if len(starts) >= 2 and energy >= 0.5:
        mid = starts[len(starts) // 2]
        return [(0.0, mid * 0.95, 0), (mid, (bar_len - mid) * 0.9, 1)]
    return [(0.0, bar_len * 0.95, 0)]


def write_bass(
    bars: Sequence[Bar], tonality: Tonality, style: str, feel: Feel, rng: random.Random
) -> list[Note]:
    """A bass line: roots on strong pulses, the genre's pattern, walking lines for jazz."""
    notes: list[Note] = []
    starts = pulse_starts(feel.time_signature)
    low, high = RANGES["bass"]
    scale_pcs = sorted(tonality.pitch_classes)
    for i, bar in enumerate(bars):
        if bar.final:
            root = _in_range(bar.chord.root, 33, 47, 40)
            n = _note(bar, 0.0, bar.length, root, 70 + 40 * bar.energy, feel)
            notes.extend([n] if n else [])
            continue
        if bar.kind == "intro" and bar.energy < 0.3:
            continue
        pitches = _bass_pitches(bar)
        vel = 68 + 40 * bar.energy
        if style == "walking" and bar.energy >= 0.3 and len(starts) >= 3:
            nxt = bars[i + 1].chord.root if i + 1 < len(bars) else bar.chord.root
            line = _walk(pitches[0], nxt, len(starts), bar, scale_pcs, low, high, rng)
            lengths = [b - a for a, b in zip(starts, list(starts[1:]) + [bar.length], strict=True)]
            for s, ln, p in zip(starts, lengths, line, strict=True):
                n = _note(bar, s, ln * 0.9, p, vel + (6 if s == 0 else 0) + rng.randint(-4, 4), feel)
                notes.extend([n] if n else [])
            continue
        for off, ln, which in _bass_offsets(style, bar.length, starts, bar.energy):
            accent = 8 if off == 0 else 0
            n = _note(bar, off, ln, pitches[which], vel + accent + rng.randint(-5, 5), feel)
            notes.extend([n] if n else [])
    return notes


def _walk(
    root: int,
    next_root_pc: int,
    count: int,
    bar: Bar,
    scale_pcs: list[int],
    low: int,
    high: int,
    rng: random.Random,
) -> list[int]:
    """Quarter notes from the root through chord and scale tones to a step next to the next root."""
    chord_pcs = set(bar.chord.tones)
    line = [root]
    cur = root
    allowed = [p for p in range(low, high + 1) if p % 12 in scale_pcs]
    target = _in_range(next_root_pc, 33, 47, cur)
    for k in range(1, count):
        if k == count - 1:  # approach the next root by a scale step
            above = [p for p in allowed if p > target][:1]
            below = [p for p in allowed if p < target][-1:]
            opts = [p for p in above + below if p != cur] or [cur]
            cur = min(opts, key=lambda p: abs(p - cur))
        else:
            direction = 1 if target >= cur or cur < low + 5 else -1
            if cur > high - 5:
                direction = -1
            steps = [p for p in allowed if 0 < (p - cur) * direction <= 7]
            chordy = [p for p in steps if p % 12 in chord_pcs]
            pool = chordy if chordy and rng.random() < 0.6 else steps
            cur = pool[0] if direction > 0 and pool else (pool[-1] if pool else cur)
            if len(pool) > 1 and rng.random() < 0.3:
                cur = pool[1] if direction > 0 else pool[-2]
        line.append(cur)
    return line


# ---------------------------------------------------------------- chords


def _comp_offsets(
    style: str, bar_len: float, starts: Sequence[float], energy: float, rng: random.Random
) -> list[tuple[float, float]]:
    """(offset, length) of the chord hits in one bar."""
    four = abs(bar_len - 4.0) < 1e-6
    if style == "sustain" or energy < 0.3:
        return [(0.0, bar_len * 0.98)]
    if style == "strum":
        if energy < 0.5:
            half = starts[len(starts) // 2] if len(starts) > 1 else bar_len
            return [(0.0, half * 0.95)] + ([(half, (bar_len - half) * 0.95)] if half < bar_len else [])
        ends = list(starts[1:]) + [bar_len]
        return [(s, (e - s) * 0.85) for s, e in zip(starts, ends, strict=True)]
    if style == "offbeat" and four:
        return [(i + 0.5, 0.35) for i in range(4)]
    if style == "stabs" and four:
        return (
            [(0.0, 0.4), (1.5, 0.4), (3.0, 0.4)]
            if energy < 0.7
            else [(0.0, 0.4), (0.75, 0.25), (1.5, 0.4), (2.5, 0.3), (3.0, 0.4)]
        )
    if style in ("skank", "waltz", "offbeat", "stabs"):
        return [(s, 0.35 if style != "waltz" else 0.6) for s in starts[1:]] or [(0.0, bar_len * 0.9)]
    if style == "comp":
        grid = [x * 0.5 for x in range(int(bar_len * 2))]
        hits = sorted(rng.sample(grid, k=min(len(grid), 2 + int(energy * 2))))
        out = []
        for i, h in enumerate(hits):
            end = hits[i + 1] if i + 1 < len(hits) else bar_len
            out.append((h, max(0.25, (end - h) * 0.8)))
        return out
    return [(0.0, bar_len * 0.98)]


def write_chords(bars: Sequence[Bar], style: str, feel: Feel, rng: random.Random) -> list[Note]:
    """Comping chords in the middle register, voiced for smooth motion from bar to bar."""
    notes: list[Note] = []
    low, high = RANGES["chords"]
    starts = pulse_starts(feel.time_signature)
    prev: tuple[int, ...] | None = None
    for bar in bars:
        voicing = voice(bar.chord, low, high, prev)
        prev = voicing
        vel = 48 + 40 * bar.energy
        if bar.final:
            hits = [(0.0, bar.length)]
        elif style == "arpeggio":
            notes.extend(_broken(bar, voicing, 0.5, vel, feel))
            continue
        else:
            hits = _comp_offsets(style, bar.length, starts, bar.energy, rng)
        for off, ln in hits:
            accent = 6 if off == 0 else 0
            for j, p in enumerate(voicing):
                n = _note(bar, off, ln, p, vel + accent - 3 * j + rng.randint(-3, 3), feel)
                notes.extend([n] if n else [])
    return notes


def _broken(bar: Bar, voicing: Sequence[int], step: float, vel: float, feel: Feel) -> list[Note]:
    """A broken chord: bottom, top, middle, top … (the classical left-hand figure)."""
    order = (
        [voicing[0], voicing[-1], voicing[len(voicing) // 2], voicing[-1]]
        if len(voicing) >= 3
        else list(voicing)
    )
    out: list[Note] = []
    for k in range(int(round(bar.length / step))):
        n = _note(bar, k * step, step * 0.95, order[k % len(order)], vel + (6 if k == 0 else 0), feel)
        if n:
            out.append(n)
    return out


# ---------------------------------------------------------------- pad and arpeggio


def write_pad(bars: Sequence[Bar], feel: Feel) -> list[Note]:
    """Sustained chords, soft, one voicing per bar (tied when the chord does not change)."""
    notes: list[Note] = []
    low, high = RANGES["pad"]
    prev: tuple[int, ...] | None = None
    i = 0
    while i < len(bars):
        bar = bars[i]
        j = i
        while (
            j + 1 < len(bars)
            and bars[j + 1].chord == bar.chord
            and not bars[j + 1].section_start
            and not bars[j + 1].final
        ):
            j += 1
        voicing = voice(bar.chord, low, high, prev)
        prev = voicing
        length = bars[j].start + bars[j].length - bar.start
        for p in voicing:
            notes.append(
                Note(
                    p,
                    round(bar.start, 6),
                    round(length * (1.0 if bars[j].final else 0.99), 6),
                    _vel(38 + 35 * bar.energy),
                )
            )
        i = j + 1
    return notes


def write_arp(bars: Sequence[Bar], feel: Feel, rng: random.Random) -> list[Note]:
    """Rising and falling chord tones; sixteenths when the section is full, eighths otherwise."""
    notes: list[Note] = []
    low, high = RANGES["arp"]
    compound = any(abs(p - 1.5) < 1e-6 for p in pulses(feel.time_signature))
    shape = rng.choice(("up", "updown", "down"))
    for bar in bars:
        voicing = list(voice(bar.chord, low, high - 12, None))
        voicing += [p + 12 for p in voicing if p + 12 <= high]
        if bar.final:
            n = _note(bar, 0.0, bar.length, voicing[0], 50 + 30 * bar.energy, feel)
            notes.extend([n] if n else [])
            continue
        if bar.kind in ("intro", "outro") and bar.energy < 0.45:
            continue
        step = 0.25 if bar.energy >= 0.7 and not compound else 0.5
        seq = voicing if shape == "up" else voicing[::-1] if shape == "down" else voicing + voicing[-2:0:-1]
        for k in range(int(round(bar.length / step))):
            vel = 50 + 35 * bar.energy + (8 if k == 0 else 0) + rng.randint(-4, 4)
            n = _note(bar, k * step, step * 0.9, seq[k % len(seq)], vel, feel)
            notes.extend([n] if n else [])
    return notes
