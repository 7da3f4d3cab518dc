"""Drum patterns per style and metre, with fills, crashes, swing and humanised velocity.

4/4 styles have hand-written one-bar grooves; every hit carries the lowest
section energy at which it plays, so quiet sections thin out to kick and hats
and full ones gain ghost notes and sixteenths. Other metres (3/4, 6/8, 5/4,
7/8 …) get a groove built from their pulses, flavoured by the style, so the
kick always marks the bar's first pulse.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from services.backends.styles.bars import Bar
from services.backends.styles.profiles import GenreProfile
from services.backends.styles.rhythm import is_compound, pulse_starts, pulses, swing_time
from services.prompting.drum_styles import DRUM_STYLES, fit_to_metre
from services.score.model import Note

# General MIDI percussion keys.
KICK, RIM, SNARE, CLAP, CLOSED_HAT, PEDAL_HAT, OPEN_HAT = 36, 37, 38, 39, 42, 44, 46
LOW_TOM, MID_TOM, HIGH_TOM, FLOOR_TOM = 45, 47, 50, 41
CRASH, RIDE, TAMBOURINE, COWBELL, HIGH_CONGA, LOW_CONGA, CLAVE = 49, 51, 54, 56, 62, 64, 75


@dataclass(frozen=True)
class Hit:
    """One drum hit in a bar pattern."""

    key: int  # GM percussion key
    offset: float  # beats from the start of the bar
    level: float  # velocity relative to the section's level, 0 … 1.2
    min_energy: float = 0.0  # the hit plays only in sections at least this energetic


def _eighths(key: int, level: float, off_level: float, min_energy: float = 0.0) -> list[Hit]:
    return [Hit(key, i * 0.5, level if i % 2 == 0 else off_level, min_energy) for i in range(8)]


def _sixteenths(key: int, level: float, min_energy: float) -> list[Hit]:
    return [Hit(key, i * 0.25 + 0.25, level, min_energy) for i in range(0, 16, 2)]


# One bar of 4/4 per style.
GROOVES_44: dict[str, list[Hit]] = {
    "rock": [
        Hit(KICK, 0, 1.0),
        Hit(KICK, 2, 0.9),
        Hit(KICK, 2.5, 0.7, 0.6),
        Hit(SNARE, 1, 1.0, 0.3),
        Hit(SNARE, 3, 1.0, 0.3),
        *_eighths(CLOSED_HAT, 0.75, 0.55),
        Hit(OPEN_HAT, 3.5, 0.6, 0.8),
    ],
    "four_on_floor": [
        *(Hit(KICK, float(b), 1.0) for b in range(4)),
        Hit(CLAP, 1, 0.9, 0.35),
        Hit(CLAP, 3, 0.9, 0.35),
        *(Hit(OPEN_HAT, b + 0.5, 0.7, 0.3) for b in range(4)),
        *_sixteenths(CLOSED_HAT, 0.4, 0.75),
    ],
    "boom_bap": [
        Hit(KICK, 0, 1.0),
        Hit(KICK, 1.75, 0.7, 0.5),
        Hit(KICK, 2.5, 0.85),
        Hit(SNARE, 1, 1.0, 0.3),
        Hit(SNARE, 3, 1.0, 0.3),
        Hit(SNARE, 3.75, 0.35, 0.7),
        *_eighths(CLOSED_HAT, 0.7, 0.45),
    ],
    "trap": [
        Hit(KICK, 0, 1.0),
        Hit(KICK, 1.5, 0.8, 0.5),
        Hit(KICK, 2.75, 0.8, 0.6),
        Hit(CLAP, 2, 1.0, 0.3),
        *_eighths(CLOSED_HAT, 0.7, 0.5),
        *_sixteenths(CLOSED_HAT, 0.45, 0.55),
    ],
    "breakbeat": [
        Hit(KICK, 0, 1.0),
        Hit(KICK, 0.5, 0.8, 0.5),
        Hit(KICK, 2.5, 0.9),
        Hit(SNARE, 1, 1.0, 0.3),
        Hit(SNARE, 1.75, 0.4, 0.6),
        Hit(SNARE, 2.25, 0.4, 0.7),
        Hit(SNARE, 3, 1.0, 0.3),
        Hit(SNARE, 3.75, 0.5, 0.6),
        *_eighths(CLOSED_HAT, 0.7, 0.5),
    ],
    "jazz_swing": [
        Hit(RIDE, 0, 0.8),
        Hit(RIDE, 1, 0.9),
        Hit(RIDE, 1.5, 0.6),
        Hit(RIDE, 2, 0.8),
        Hit(RIDE, 3, 0.9),
        Hit(RIDE, 3.5, 0.6),
        Hit(PEDAL_HAT, 1, 0.6, 0.2),
        Hit(PEDAL_HAT, 3, 0.6, 0.2),
        *(Hit(KICK, float(b), 0.35, 0.5) for b in range(4)),
        Hit(SNARE, 2.5, 0.35, 0.6),
    ],
    "bossa": [
        Hit(KICK, 0, 0.9),
        Hit(KICK, 1.5, 0.7),
        Hit(KICK, 2, 0.9),
        Hit(KICK, 3.5, 0.7),
        *(Hit(RIM, o, 0.8, 0.2) for o in (0.0, 0.75, 1.5, 2.5, 3.0)),
        *_eighths(CLOSED_HAT, 0.6, 0.45),
    ],
    "reggae": [
        Hit(KICK, 2, 1.0),
        Hit(RIM, 2, 0.9, 0.3),
        *_eighths(CLOSED_HAT, 0.65, 0.5),
        Hit(OPEN_HAT, 3.5, 0.5, 0.7),
        Hit(KICK, 0, 0.6, 0.75),
    ],
    "march": [
        Hit(KICK, 0, 1.0),
        Hit(KICK, 2, 1.0),
        Hit(SNARE, 1, 0.9),
        Hit(SNARE, 3, 0.9),
        Hit(SNARE, 1.5, 0.5, 0.4),
        Hit(SNARE, 3.5, 0.5, 0.4),
        Hit(SNARE, 3.75, 0.45, 0.6),
        Hit(CRASH, 0, 0.5, 0.85),
    ],
    "chiptune": [
        Hit(KICK, 0, 1.0),
        Hit(KICK, 2, 1.0),
        Hit(KICK, 2.5, 0.8, 0.6),
        Hit(SNARE, 1, 1.0, 0.3),
        Hit(SNARE, 3, 1.0, 0.3),
        *_eighths(CLOSED_HAT, 0.6, 0.6),
        *_sixteenths(CLOSED_HAT, 0.4, 0.8),
    ],
    "latin": [
        Hit(KICK, 0, 0.9),
        Hit(KICK, 1.5, 0.7),
        Hit(KICK, 3.5, 0.8),
        *(Hit(COWBELL, float(b), 0.7, 0.4) for b in range(4)),
        *(Hit(CLAVE, o, 0.8) for o in (0.0, 0.75, 1.5, 2.5, 3.0)),
        Hit(HIGH_CONGA, 1.5, 0.7, 0.5),
        Hit(HIGH_CONGA, 1.75, 0.6, 0.5),
        Hit(LOW_CONGA, 3.5, 0.8, 0.5),
        Hit(LOW_CONGA, 3.75, 0.7, 0.5),
    ],
    "halftime": [
        Hit(KICK, 0, 1.0),
        Hit(KICK, 2.75, 0.7, 0.55),
        Hit(SNARE, 2, 1.0, 0.3),
        *_eighths(CLOSED_HAT, 0.6, 0.4, 0.2),
        Hit(OPEN_HAT, 3.5, 0.5, 0.8),
    ],
}

# A waltz is one-two-three: kick, then two lighter after-beats.
WALTZ_34 = [
    Hit(KICK, 0, 1.0),
    Hit(SNARE, 1, 0.55, 0.3),
    Hit(SNARE, 2, 0.55, 0.3),
    *(Hit(CLOSED_HAT, float(b), 0.6) for b in range(3)),
    *(Hit(CLOSED_HAT, b + 0.5, 0.4, 0.7) for b in range(3)),
]
JAZZ_WALTZ_34 = [
    Hit(RIDE, 0, 0.9),
    Hit(RIDE, 1, 0.7),
    Hit(RIDE, 1.5, 0.5),
    Hit(RIDE, 2, 0.7),
    Hit(PEDAL_HAT, 1, 0.5, 0.2),
    Hit(PEDAL_HAT, 2, 0.5, 0.2),
    Hit(KICK, 0, 0.5, 0.4),
]


def drum_style_for(style: str | None, profile: GenreProfile, time_signature: tuple[int, int]) -> str:
    """The drum style to play: the spec's when it names a known one, else the genre's habit.

    A genre whose habit is no drums ("classical") still gets a soft half-time
    groove when the spec asks for drums; the caller skips drums entirely when
    the spec says none.
    """
    if style is not None and style in DRUM_STYLES:
        return style  # the interpreter already fitted it to the metre
    chosen = profile.drum_style
    if chosen == "none":
        chosen = "halftime"
    return fit_to_metre(chosen, time_signature)


def _generic(style: str, time_signature: tuple[int, int]) -> list[Hit]:
    """A groove for any metre from its pulses: kick on the first, backbeats on the off-pulses."""
    starts = pulse_starts(time_signature)
    lengths = pulses(time_signature)
    n = len(starts)
    hits: list[Hit] = []
    jazz = style == "jazz_swing"
    timekeeper = RIDE if jazz else CLOSED_HAT
    for i, (s, ln) in enumerate(zip(starts, lengths, strict=True)):
        if i == 0 or style == "four_on_floor":
            hits.append(Hit(KICK, s, 1.0 if i == 0 else 0.9, 0.5 if jazz else 0.0))
        elif i % 2 == 0 and i != n - 1:
            hits.append(Hit(KICK, s, 0.75, 0.45))
        backbeat = (i % 2 == 1) if n != 3 else i == 2
        if style in ("halftime", "trap"):
            backbeat = i == n // 2 and n > 1
        if backbeat and not jazz:
            hits.append(Hit(CLAP if style in ("four_on_floor", "trap") else SNARE, s, 1.0, 0.3))
        sub = 0.5 if ln > 0.5 + 1e-9 else ln
        k = 0
        while k * sub < ln - 1e-9:
            hits.append(Hit(timekeeper, s + k * sub, 0.7 if k == 0 else 0.5, 0.0 if k == 0 else 0.35))
            k += 1
        if jazz and i % 2 == 1:
            hits.append(Hit(PEDAL_HAT, s, 0.55, 0.2))
    return hits


def groove(style: str, time_signature: tuple[int, int]) -> list[Hit]:
    """The one-bar pattern for a style in a metre."""
    if time_signature == (4, 4) and style in GROOVES_44:
        return GROOVES_44[style]
    if time_signature == (3, 4) and style == "waltz":
        return WALTZ_34
    if time_signature == (3, 4) and style == "jazz_swing":
        return JAZZ_WALTZ_34
    return _generic(style, time_signature)


def _fill(bar: Bar, time_signature: tuple[int, int], energy: float) -> list[Hit]:
    """A fill over the bar's last pulse: toms down the kit when loud, snare eighths when not."""
    last = pulse_starts(time_signature)[-1]
    span = bar.length - last
    step = 0.25 if energy >= 0.6 else 0.5
    keys = (HIGH_TOM, HIGH_TOM, MID_TOM, MID_TOM, LOW_TOM, LOW_TOM, FLOOR_TOM, FLOOR_TOM)
    hits: list[Hit] = []
    count = max(1, int(round(span / step)))
    for k in range(count):
        key = keys[min(len(keys) - 1, k * len(keys) // count)] if energy >= 0.6 else SNARE
        hits.append(Hit(key, last + k * step, 0.7 + 0.3 * k / count))
    return hits


def write_drums(
    bars: Sequence[Bar], style: str, time_signature: tuple[int, int], swing: float, rng: random.Random
) -> list[Note]:
    """Drum notes for the whole piece: grooves per section energy, fills and crashes at section edges."""
    if style == "none":
        return []
    pattern = groove(style, time_signature)
    swing = 0.0 if is_compound(time_signature) else swing
    notes: list[Note] = []
    for bar in bars:
        level = 52 + 62 * bar.energy
        if bar.final:
            hits = [Hit(KICK, 0, 1.0), Hit(CRASH, 0, 1.0)]
        elif bar.kind == "intro" and bar.energy < 0.3:
            continue
        else:
            hits = [h for h in pattern if h.min_energy <= bar.energy]
            if bar.kind in ("intro", "loop") and bar.energy < 0.5:
                hits = [h for h in hits if h.key not in (SNARE, CLAP, RIM)] or hits
            if style == "trap" and bar.energy >= 0.6 and rng.random() < 0.5:
                roll_at = rng.choice((1.5, 3.0, 3.5))
                hits = hits + [Hit(CLOSED_HAT, roll_at + k / 8, 0.45 + 0.05 * k) for k in range(4)]
            if bar.section_end and bar.section.bars >= 2 and bar.energy >= 0.35:
                cut = pulse_starts(time_signature)[-1]
                hits = [h for h in hits if h.offset < cut - 1e-9] + _fill(bar, time_signature, bar.energy)
            if bar.section_start and bar.index > 0 and bar.energy >= 0.45:
                hits = hits + [Hit(CRASH, 0, 0.9)]
        for h in hits:
            if h.offset >= bar.length - 1e-6:
                continue
            start = swing_time(h.offset, swing)
            if h.key in (CRASH, OPEN_HAT, RIDE):
                dur = 1.0
            else:
                dur = 0.2
            if bar.final:
                dur = bar.length
            dur = min(dur, bar.length - start)
            spread = 10 if h.key in (CLOSED_HAT, RIDE, PEDAL_HAT) else 6
            vel = level * h.level + rng.randint(-spread, spread)
            notes.append(Note(h.key, round(bar.start + start, 6), round(dur, 6), max(1, min(127, int(vel)))))
    return notes
