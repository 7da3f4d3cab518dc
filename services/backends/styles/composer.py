"""The styles composer: StyleSpec + seed → Score.

Read top-down: the length fixes a whole number of bars; the genre profile and
the energy curve give a form; the key (or the stated pitch set) gives a
tonality and a chord per bar; then each part of the spec is written over that
bar grid by its role's writer. Everything random flows from the seed through
named sub-generators, so the same seed gives the same piece and changing one
part's writer does not reshuffle the others.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from services.backends.styles.accompaniment import (
    RANGES,
    Feel,
    write_arp,
    write_bass,
    write_chords,
    write_pad,
)
from services.backends.styles.bars import Bar, make_bars
from services.backends.styles.drums import drum_style_for, write_drums
from services.backends.styles.form import plan_form
from services.backends.styles.harmony import Tonality, chord_plan, tonality_for
from services.backends.styles.melody import MelodyStyle, MelodyWriter, harmony_line
from services.backends.styles.profiles import GenreProfile, profile_for
from services.backends.styles.rhythm import bar_beats, is_compound
from services.prompting.spec import InstrumentPart, StyleSpec
from services.score.model import Note, Score, Section, Track
from services.score.theory import Key

MELODIC_ROLES = ("lead", "chords", "bass", "pad", "arp")
# Where each role sits in the stereo field; repeats of a role alternate sides.
PANS = {"bass": 0.0, "drums": 0.0, "lead": 0.15, "chords": -0.35, "pad": 0.4, "arp": -0.5}
VOLUMES = {"bass": 0.8, "drums": 0.8, "lead": 0.85, "chords": 0.65, "pad": 0.55, "arp": 0.6}
DRUM_KIT = InstrumentPart("drums", 0, "drum kit")


def compose(spec: StyleSpec, seed: int) -> Score:
    """Write a whole piece for the spec; deterministic for a given seed."""
    profile = profile_for(spec.genres)
    bar_len = bar_beats(spec.time_signature)
    length_beats = spec.duration_s * spec.tempo_bpm / 60.0
    total_bars = max(1, int(length_beats / bar_len + 1e-9))

    sections = plan_form(
        total_bars,
        spec.energy_curve,
        loop=profile.loop_form,
        arousal=spec.arousal,
        rng=_rng(seed, profile.name, "form"),
    )
    tonality = tonality_for(spec.key, spec.pitch_set)
    chords = chord_plan(sections, profile, tonality, _rng(seed, profile.name, "harmony"))
    bars = make_bars(sections, chords, bar_len, length_beats)

    swing = _swing(spec, profile)
    feel = Feel(spec.time_signature, swing)
    tracks = _write_parts(spec, seed, profile, tonality, bars, feel)

    key = spec.key if tonality.tonic == spec.key.tonic else Key(tonality.tonic, spec.key.mode)
    score = Score(
        tempo_bpm=spec.tempo_bpm,
        tracks=tracks,
        time_signature=spec.time_signature,
        key=key,
        title=f"{profile.name if not spec.genres else spec.genres[0]} in {key}",
        sections=[
            Section(
                s.name,
                s.start_bar * bar_len,
                length_beats if s is sections[-1] else s.end_bar * bar_len,
                s.energy,
            )
            for s in sections
        ],
        length_beats=length_beats,
    )
    return score


def _rng(seed: int, genre: str, name: str) -> random.Random:
    """A generator for one concern, derived from the seed and genre (string seeds are hashed stably)."""
    return random.Random(f"{seed}:{genre}:{name}")


def _swing(spec: StyleSpec, profile: GenreProfile) -> float:
    """The spec's swing when it has one, else the genre's; never in compound metres."""
    swing = profile.swing if spec.swing is None else float(spec.swing)
    if is_compound(spec.time_signature):
        return 0.0
    return min(0.5, max(0.0, swing))


def _write_parts(
    spec: StyleSpec, seed: int, profile: GenreProfile, tonality: Tonality, bars: list[Bar], feel: Feel
) -> list[Track]:
    """One track per part of the spec (drums only when wanted), in the spec's order."""
    parts = [p for p in spec.parts if p.role != "drums"]
    style = drum_style_for(spec.drum_style or None, profile, spec.time_signature)
    wants_drums = spec.drums and style != "none"
    if wants_drums:
        drum_parts = [p for p in spec.parts if p.role == "drums"] or [DRUM_KIT]
    else:
        drum_parts = []
    melodic_roles = [_role(p) for p in parts]
    solo = melodic_roles.count("lead") == len(melodic_roles)

    lead_notes: list[Note] = []
    if "lead" in melodic_roles:
        low, high = RANGES["lead"]
        writer = MelodyWriter(
            tonality,
            MelodyStyle(low, high, profile.density, feel.swing, spec.time_signature, solo),
            _rng(seed, profile.name, "melody"),
        )
        lead_notes = writer.write(bars)

    seen: dict[str, int] = {}
    tracks: list[Track] = []
    for i, part in enumerate(spec.parts):
        if part.role == "drums":
            continue
        role = _role(part)
        nth = seen.get(role, 0)
        seen[role] = nth + 1
        rng = _rng(seed, profile.name, f"{role}:{nth}:{i}")
        notes = _melodic_notes(role, nth, lead_notes, tonality, bars, feel, profile, rng)
        tracks.append(_track(part, role, nth, notes, is_drum=False))
    for k, part in enumerate(drum_parts):
        notes = write_drums(
            bars, style, spec.time_signature, feel.swing, _rng(seed, profile.name, f"drums:{k}")
        )
        tracks.append(_track(part, "drums", k, notes, is_drum=True))
    end = bars[-1].start + bars[-1].length if bars else 0.0
    for t in tracks:
        t.notes = _tidy(t.notes, end, t.is_drum)
    return tracks


def _role(part: InstrumentPart) -> str:
    """Unknown roles play like a pad: sustained harmony never clashes."""
    return part.role if part.role in MELODIC_ROLES else "pad"


def _melodic_notes(
    role: str,
    nth: int,
    lead: list[Note],
    tonality: Tonality,
    bars: list[Bar],
    feel: Feel,
    profile: GenreProfile,
    rng: random.Random,
) -> list[Note]:
    """Send a part to its role's writer; a second lead harmonises the first, a second chords part pads."""
    writers: dict[str, Callable[[], list[Note]]] = {
        "lead": lambda: list(lead) if nth == 0 else harmony_line(lead, tonality, *RANGES["lead"]),
        "chords": lambda: write_chords(bars, profile.comp, feel, rng) if nth == 0 else write_pad(bars, feel),
        "bass": lambda: write_bass(bars, tonality, profile.bass, feel, rng),
        "pad": lambda: write_pad(bars, feel),
        "arp": lambda: write_arp(bars, feel, rng),
    }
    return writers[role]()


def _track(part: InstrumentPart, role: str, nth: int, notes: list[Note], *, is_drum: bool) -> Track:
    """A track with the role's pan (repeats mirrored and spread) and volume."""
    pan = PANS.get(role, 0.3)
    if nth:
        pan = -pan * (1 + 0.3 * nth) if pan else (0.3 if nth % 2 else -0.3)
    return Track(
        name=part.name,
        program=part.program,
        is_drum=is_drum,
        notes=notes,
        pan=max(-1.0, min(1.0, pan)),
        volume=VOLUMES.get(role, 0.6),
        role=part.role,
    )


def _tidy(notes: list[Note], end: float, is_drum: bool) -> list[Note]:
    """Sort, clip to the piece's end, and keep pitches playable (21–108 for instruments)."""
    out: list[Note] = []
    for n in sorted(notes, key=lambda n: (n.start, n.pitch)):
        if n.start >= end - 1e-6 or n.duration <= 0:
            continue
        pitch = n.pitch
        if not is_drum:
            while pitch < 21:
                pitch += 12
            while pitch > 108:
                pitch -= 12
        dur = min(n.duration, end - n.start)
        out.append(Note(pitch, n.start, dur, max(1, min(127, n.velocity))))
    return out
