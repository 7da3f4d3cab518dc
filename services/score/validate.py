"""The shared score checker: limits that keep rendering cheap, and pitch-set constraints.

Every message names the bar and the track, in words a musician (or an LLM
asked to repair its own score) can act on: "bar 3, flute: G# is not allowed
(allowed: A, B, C#, F#, G)". Repeats collapse to one message per track, bar
and problem so the feedback stays short.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.score.model import Note, Score, Track
from services.score.theory import SHARP_NAMES, pitch_class_names, pitch_name


@dataclass(frozen=True)
class ScoreLimits:
    """What a score may ask of the renderer."""

    max_notes: int = 4_000  # all tracks together
    max_seconds: float = 600.0  # length at the score's tempo
    min_tempo: float = 20.0  # quarter-note BPM
    max_tempo: float = 300.0
    min_tracks: int = 1
    max_tracks: int = 16  # MIDI has 16 channels
    min_pitch: int = 21  # A0, the lowest piano key (melodic tracks only)
    max_pitch: int = 108  # C8, the highest piano key
    max_polyphony: int = 16  # notes sounding at once within one track


@dataclass(frozen=True)
class Violation:
    """One problem with a score, located and explained."""

    code: str  # kind of problem: "tempo", "pitch_range", "pitch_set", "polyphony", …
    message: str  # the full human sentence, location included
    track: str | None = None  # track name, None for score-wide problems
    bar: int | None = None  # 1-based bar number from the metre, None when not about a place
    beat: float | None = None  # 1-based beat within the bar (quarter notes), where the problem starts

    def __str__(self) -> str:
        return self.message


def locate(score: Score, beat: float) -> tuple[int, float]:
    """Absolute beat → (1-based bar, 1-based beat within the bar) using the score's metre."""
    per_bar = score.beats_per_bar if score.beats_per_bar > 0 else 4.0
    if not math.isfinite(beat) or beat < 0:
        return 1, 1.0
    bar = int(beat // per_bar)
    return bar + 1, round(beat - bar * per_bar + 1.0, 3)


def _where(bar: int | None, track: str | None) -> str:
    parts = []
    if bar is not None:
        parts.append(f"bar {bar}")
    if track:
        parts.append(track)
    return ", ".join(parts) + ": " if parts else ""


class _Collector:
    """Builds violations, dropping exact repeats (same problem, track and bar)."""

    def __init__(self, score: Score) -> None:
        self.score = score
        self.items: list[Violation] = []
        self._seen: set[tuple[str, str | None, int | None, str]] = set()

    def add(self, code: str, what: str, track: Track | None = None, at_beat: float | None = None) -> None:
        bar, beat = locate(self.score, at_beat) if at_beat is not None else (None, None)
        name = track.name if track is not None else None
        key = (code, name, bar, what)
        if key in self._seen:
            return
        self._seen.add(key)
        self.items.append(Violation(code, _where(bar, name) + what, name, bar, beat))


DEFAULT_LIMITS = ScoreLimits()


def validate_score(score: Score, limits: ScoreLimits = DEFAULT_LIMITS) -> list[Violation]:
    """Every way `score` breaks `limits` (empty list: renderable). Never raises on bad values."""
    out = _Collector(score)
    _check_score_wide(score, limits, out)
    for track in score.tracks:
        _check_track(track, limits, out)
    return out.items


def _check_score_wide(score: Score, limits: ScoreLimits, out: _Collector) -> None:
    tempo = score.tempo_bpm
    if not math.isfinite(tempo) or not limits.min_tempo <= tempo <= limits.max_tempo:
        out.add("tempo", f"tempo {tempo:g} BPM is outside {limits.min_tempo:g}–{limits.max_tempo:g} BPM")
    num, den = score.time_signature
    if not 1 <= num <= 32 or den not in (1, 2, 4, 8, 16, 32):
        out.add("time_signature", f"time signature {num}/{den} is not supported")
    count = len(score.tracks)
    if not limits.min_tracks <= count <= limits.max_tracks:
        out.add("tracks", f"the score has {count} tracks (allowed: {limits.min_tracks}–{limits.max_tracks})")
    names = [t.name for t in score.tracks]
    for name in sorted({n for n in names if names.count(n) > 1}):
        out.add("track_name", f"more than one track is called {name!r}; give each track its own name")
    notes = score.note_count()
    if notes > limits.max_notes:
        out.add("notes", f"the score has {notes:,} notes (at most {limits.max_notes:,} allowed)")
    elif notes == 0 and score.tracks:
        out.add("notes", "the score has no notes")
    if math.isfinite(tempo) and tempo > 0:
        seconds = score.duration_seconds()
        if not math.isfinite(seconds) or seconds > limits.max_seconds:
            out.add(
                "length",
                f"the score lasts {_minutes(seconds)} at {tempo:g} BPM "
                f"(at most {_minutes(limits.max_seconds)})",
            )


def _minutes(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "forever"
    whole = int(round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def _check_track(track: Track, limits: ScoreLimits, out: _Collector) -> None:
    if not track.is_drum and not 0 <= track.program <= 127:
        out.add("program", f"program {track.program} is not a General MIDI program (0–127)", track)
    if not (math.isfinite(track.pan) and -1.0 <= track.pan <= 1.0):
        out.add("pan", f"pan {track.pan:g} is outside -1 (left) … 1 (right)", track)
    if not (math.isfinite(track.volume) and 0.0 <= track.volume <= 1.0):
        out.add("volume", f"volume {track.volume:g} is outside 0–1", track)
    for note in track.notes:
        _check_note(track, note, limits, out)
    _check_polyphony(track, limits, out)


def _check_note(track: Track, note: Note, limits: ScoreLimits, out: _Collector) -> None:
    at = note.start if math.isfinite(note.start) and note.start >= 0 else None
    if not math.isfinite(note.start) or note.start < 0:
        out.add("start", f"a note starts at beat {note.start:g}; starts must be 0 or later", track)
    if not math.isfinite(note.duration) or note.duration <= 0:
        what = f"a note has duration {note.duration:g} beats; durations must be above 0"
        out.add("duration", what, track, at)
    if not 1 <= note.velocity <= 127:
        out.add("velocity", f"velocity {note.velocity} is outside 1–127", track, at)
    if track.is_drum:
        if not 0 <= note.pitch <= 127:
            out.add("pitch_range", f"drum key {note.pitch} is outside MIDI's 0–127", track, at)
    elif not limits.min_pitch <= note.pitch <= limits.max_pitch:
        direction = "below the lowest" if note.pitch < limits.min_pitch else "above the highest"
        bound = limits.min_pitch if note.pitch < limits.min_pitch else limits.max_pitch
        out.add(
            "pitch_range",
            f"pitch {note.pitch} ({_safe_name(note.pitch)}) is {direction} allowed, "
            f"{bound} ({pitch_name(bound)})",
            track,
            at,
        )


def _safe_name(pitch: int) -> str:
    return pitch_name(pitch) if 0 <= pitch <= 127 else "not a MIDI note"


def _check_polyphony(track: Track, limits: ScoreLimits, out: _Collector) -> None:
    """Report the first place each track has more notes sounding than allowed."""
    events: list[tuple[float, int]] = []
    for note in track.notes:
        if math.isfinite(note.start) and math.isfinite(note.duration) and note.duration > 0:
            events.append((note.start, 1))
            events.append((note.end, -1))
    events.sort()  # at equal times the -1 (a note ending) sorts first, so legato is not overlap
    sounding = 0
    for time, delta in events:
        sounding += delta
        if sounding > limits.max_polyphony:
            out.add(
                "polyphony",
                f"{sounding} notes sound at once (at most {limits.max_polyphony} per track)",
                track,
                time,
            )
            return


def check_pitch_set(score: Score, allowed: frozenset[int], *, flats: bool = False) -> list[Violation]:
    """Melodic notes whose pitch class is not in `allowed` (pitch classes 0–11); drums are exempt.

    One violation per track, bar and foreign pitch class, at its first beat.
    """
    classes = frozenset(pc % 12 for pc in allowed)
    allowed_text = pitch_class_names(classes, flats=flats) if classes else "none"
    out = _Collector(score)
    for track in score.tracks:
        if track.is_drum:
            continue
        for note in sorted(track.notes, key=lambda n: n.start if math.isfinite(n.start) else 0.0):
            pc = note.pitch % 12
            if pc in classes:
                continue
            name = pitch_class_names(frozenset({pc}), flats=flats) if flats else SHARP_NAMES[pc]
            at = note.start if math.isfinite(note.start) and note.start >= 0 else 0.0
            out.add("pitch_set", f"{name} is not allowed (allowed: {allowed_text})", track, at)
    return out.items
