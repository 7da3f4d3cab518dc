"""Fixing a score that breaks the rules: first by asking the model, then by minimal edits.

Feedback rounds keep the music the model meant; when they run out, the
deterministic repair changes as little as it can (snap a note to the nearest
allowed pitch, move it by octaves into range, cut at the length limit, double a
part on a new instrument) and says each thing it did, so the summary is honest.
"""

from __future__ import annotations

import math
from dataclasses import replace

from services.backends.notes.constraints import NoteConstraints, instrument_count, plays
from services.score import gm
from services.score.model import Note, Score, Track
from services.score.theory import Key, pitch_class_names, pitch_name
from services.score.validate import Violation

MAX_FEEDBACK_LINES = 20  # more problems than this are summarised, so the prompt stays small
_FILLERS = (32, 25, 48, 0, 73)  # instruments added to make up a band: bass, guitar, strings, piano, flute
_BASS_PROGRAMS = frozenset({32, 33, 34, 35, 36, 37, 38, 39, 43, 58, 70})


def feedback(violations: list[Violation] | list[str]) -> str:
    """The user turn that sends problems back to the model."""
    lines = [str(v) for v in violations]
    shown = lines[:MAX_FEEDBACK_LINES]
    more = len(lines) - len(shown)
    body = "\n".join(f"- {line}" for line in shown)
    if more > 0:
        body += f"\n- … and {more} more problems of the same kinds"
    return (
        "Your score breaks these rules:\n"
        f"{body}\n"
        "Write the whole score again as one JSON object in the same format, fixing every problem above "
        "and keeping everything else."
    )


def nearest_allowed(pitch: int, allowed: frozenset[int], low: int, high: int) -> int:
    """The closest pitch in [low, high] whose class is allowed; on a tie, the lower one."""
    best: int | None = None
    for distance in range(0, 128):
        for candidate in (pitch - distance, pitch + distance):
            if low <= candidate <= high and candidate % 12 in allowed:
                best = candidate
                break
        if best is not None:
            return best
    return min(max(pitch, low), high)


def into_range(pitch: int, low: int, high: int) -> int:
    """Move a pitch by octaves until it lies in [low, high] (its pitch class is kept)."""
    while pitch < low:
        pitch += 12
    while pitch > high:
        pitch -= 12
    return pitch


def repair(score: Score, rules: NoteConstraints) -> tuple[Score, list[str]]:
    """A copy of `score` edited to keep `rules`, and a sentence for each kind of edit made."""
    fixed = Score(
        tempo_bpm=score.tempo_bpm,
        tracks=[replace(t, notes=list(t.notes)) for t in score.tracks],
        time_signature=score.time_signature,
        key=score.key,
        title=score.title,
    )
    notes: list[str] = []
    _fix_header(fixed, rules, notes)
    _fix_tracks(fixed, rules, notes)
    _fix_pitches(fixed, rules, notes)
    _fix_length(fixed, rules, notes)
    _fix_note_count(fixed, rules, notes)
    _fix_polyphony(fixed, rules, notes)
    _fix_instruments(fixed, rules, notes)
    return fixed, notes


def _fix_header(score: Score, rules: NoteConstraints, notes: list[str]) -> None:
    limits = rules.limits
    if rules.tempo_bpm is not None and score.tempo_bpm != rules.tempo_bpm:
        notes.append(f"set the tempo to {rules.tempo_bpm:g} BPM (the model wrote {score.tempo_bpm:g})")
        score.tempo_bpm = rules.tempo_bpm
    elif not (math.isfinite(score.tempo_bpm) and limits.min_tempo <= score.tempo_bpm <= limits.max_tempo):
        clamped = (
            min(max(score.tempo_bpm, limits.min_tempo), limits.max_tempo)
            if math.isfinite(score.tempo_bpm)
            else 120.0
        )
        notes.append(f"set the tempo to {clamped:g} BPM (the model wrote {score.tempo_bpm:g})")
        score.tempo_bpm = clamped
    if rules.time_signature is not None and score.time_signature != rules.time_signature:
        num, den = rules.time_signature
        notes.append(f"set the time signature to {num}/{den}")
        score.time_signature = rules.time_signature
    if rules.key is not None and score.key != rules.key:
        notes.append(f"set the key to {rules.key.name()}")
        score.key = rules.key
    elif rules.key is None and rules.mode is not None and (score.key is None or score.key.mode != rules.mode):
        tonic = score.key.tonic if score.key is not None else 9
        score.key = Key(tonic, rules.mode)
        notes.append(f"set the key to {score.key.name()}")


def _fix_tracks(score: Score, rules: NoteConstraints, notes: list[str]) -> None:
    """Drop tracks the rules forbid (drums, excluded or extra instruments), keeping at least one part."""
    allowed = {i.program for i in rules.instruments}
    no_drums = rules.drums is False or (rules.only_instruments and rules.drums is None)
    keep: list[Track] = []
    dropped: list[str] = []
    for track in score.tracks:
        if track.is_drum:
            bad = no_drums
        else:
            bad = track.program in rules.excluded_programs or (
                rules.only_instruments and track.program not in allowed
            )
        if bad and track.notes:
            dropped.append(track.name)
        elif not bad:
            keep.append(track)
    if not any(not t.is_drum for t in keep) and rules.instruments:
        melodic = [t for t in score.tracks if not t.is_drum and t.notes]
        if melodic:
            source = max(melodic, key=lambda t: len(t.notes))
            inst = rules.instruments[0]
            keep.append(replace(source, name=inst.name, program=inst.program))
            dropped = [d for d in dropped if d != source.name]
            notes.append(f"moved the {source.name} part to {inst.name}")
    if dropped:
        notes.append(f"removed {', '.join(dropped)} (not allowed by the request)")
    score.tracks = keep


def _fix_pitches(score: Score, rules: NoteConstraints, notes: list[str]) -> None:
    low, high = rules.limits.min_pitch, rules.limits.max_pitch
    moved = snapped = 0
    allowed = rules.pitch_set
    if allowed is None and rules.key is not None and _in_key_share(score, rules) < 0.8:
        allowed = rules.key.pitch_classes()
    for track in score.tracks:
        if track.is_drum:
            kept = [n for n in track.notes if 0 <= n.pitch <= 127]
            track.notes = kept
            continue
        out: list[Note] = []
        for note in track.notes:
            pitch = note.pitch
            if not low <= pitch <= high:
                pitch = into_range(pitch, low, high)
                moved += 1
            if allowed is not None and pitch % 12 not in allowed:
                pitch = nearest_allowed(pitch, allowed, low, high)
                snapped += 1
            out.append(replace(note, pitch=pitch) if pitch != note.pitch else note)
        track.notes = out
    if moved:
        notes.append(
            f"moved {moved} note{_s(moved)} by octaves into the range {pitch_name(low)}–{pitch_name(high)}"
        )
    if snapped:
        what = pitch_class_names(allowed) if allowed is not None else ""
        notes.append(f"snapped {snapped} note{_s(snapped)} to the nearest allowed pitch ({what})")


def _in_key_share(score: Score, rules: NoteConstraints) -> float:
    if rules.key is None:
        return 1.0
    scale = rules.key.pitch_classes()
    melodic = [n for t in score.tracks if not t.is_drum for n in t.notes]
    if not melodic:
        return 1.0
    return sum(1 for n in melodic if n.pitch % 12 in scale) / len(melodic)


def _fix_length(score: Score, rules: NoteConstraints, notes: list[str]) -> None:
    """Cut at the stated length or the limit; loop whole bars when the piece is shorter than asked."""
    per_bar = score.beats_per_bar
    target = rules.target_beats(score.tempo_bpm, per_bar)
    limit_s = min(rules.max_duration_s, rules.limits.max_seconds)
    limit_beats = limit_s * score.tempo_bpm / 60.0
    end = max((n.end for t in score.tracks for n in t.notes), default=0.0)
    if (
        target is not None
        and end > 0
        and end < target - max(per_bar, target * 0.15 if rules.bars is None else 0)
    ):
        bars = max(1, math.ceil(end / per_bar - 1e-6))
        block = bars * per_bar
        copies = math.ceil(target / block)
        for track in score.tracks:
            track.notes = [replace(n, start=n.start + k * block) for k in range(copies) for n in track.notes]
        notes.append(f"repeated the {bars} bar{_s(bars)} written to reach the asked length")
        end = copies * block
    cut = min(limit_beats, target) if target is not None else limit_beats
    if end > cut + 1e-6:
        _cut_at(score, cut)
        seconds = cut * 60.0 / score.tempo_bpm
        why = "the asked length" if target is not None and cut == target else "this bot's length limit"
        notes.append(
            f"cut the piece at {seconds:.0f} s ({why}; the model wrote {end * 60.0 / score.tempo_bpm:.0f} s)"
        )


def _cut_at(score: Score, beat: float) -> None:
    for track in score.tracks:
        kept: list[Note] = []
        for note in track.notes:
            if note.start >= beat - 1e-9:
                continue
            kept.append(replace(note, duration=beat - note.start) if note.end > beat else note)
        track.notes = kept


def _fix_note_count(score: Score, rules: NoteConstraints, notes: list[str]) -> None:
    limit = rules.limits.max_notes
    total = score.note_count()
    if total <= limit:
        return
    starts = sorted(n.start for t in score.tracks for n in t.notes)
    cut = starts[limit]  # every note starting here or later goes, in every track alike
    _cut_at(score, cut)
    while score.note_count() > limit:  # many notes at one instant: drop the latest ones
        cut = max(n.start for t in score.tracks for n in t.notes)
        _cut_at(score, cut)
    notes.append(
        f"cut the piece to {score.note_count():,} notes (the model wrote {total:,}; the limit is {limit:,})"
    )


def _fix_polyphony(score: Score, rules: NoteConstraints, notes: list[str]) -> None:
    most = rules.limits.max_polyphony
    dropped = 0
    for track in score.tracks:
        kept: list[Note] = []
        for note in sorted(track.notes, key=lambda n: (n.start, n.pitch)):
            sounding = sum(1 for k in kept if k.start <= note.start < k.end)
            if sounding >= most:
                dropped += 1
                continue
            kept.append(note)
        track.notes = kept
    if dropped:
        notes.append(f"dropped {dropped} note{_s(dropped)} over {most} sounding at once in one part")


def _fix_instruments(score: Score, rules: NoteConstraints, notes: list[str]) -> None:
    """Add the parts the request needs (named instruments, a band's size, drums) by doubling what exists."""
    melodic = [t for t in score.tracks if not t.is_drum and t.notes]
    room = rules.limits.max_notes - score.note_count()
    if melodic:
        for inst in rules.instruments:
            if plays(score, inst.program) or len(score.tracks) >= rules.limits.max_tracks:
                continue
            part = _double(score, melodic, inst.program, _unique_name(score, inst.name), room)
            if part.notes:
                score.tracks.append(part)
                room -= len(part.notes)
                notes.append(f"added a part for the {inst.name} (the model left it out)")
        for program in _FILLERS:
            if (
                instrument_count(score) >= rules.min_instruments
                or len(score.tracks) >= rules.limits.max_tracks
            ):
                break
            if plays(score, program) or program in rules.excluded_programs:
                continue
            if rules.only_instruments and program not in {i.program for i in rules.instruments}:
                continue
            name = _unique_name(score, gm.program_name(program))
            part = _double(score, melodic, program, name, room)
            if part.notes:
                score.tracks.append(part)
                room -= len(part.notes)
                notes.append(f"added a part for {name}, doubling the existing music, to make up the band")
    if rules.drums and not any(t.is_drum and t.notes for t in score.tracks):
        part = _drum_part(score, room)
        if part.notes:
            score.tracks.append(part)
            notes.append("added a simple drum part (the request asks for drums)")


def _unique_name(score: Score, name: str) -> str:
    used = {t.name.lower() for t in score.tracks}
    candidate, n = name, 2
    while candidate.lower() in used:
        candidate = f"{name} {n}"
        n += 1
    return candidate


def _double(score: Score, melodic: list[Track], program: int, name: str, room: int) -> Track:
    """A new part on `program`: a bass plays the lowest sounding note of each bar, others the busiest part.

    Both move only by octaves, so every pitch class (and any pitch-set rule) is kept.
    """
    per_bar = score.beats_per_bar
    if program in _BASS_PROGRAMS:
        all_notes = [n for t in melodic for n in t.notes]
        end = max(n.end for n in all_notes)
        line: list[Note] = []
        for bar in range(math.ceil(end / per_bar - 1e-6)):
            start = bar * per_bar
            here = [n for n in all_notes if n.start < start + per_bar and n.end > start]
            if here:
                lowest = min(here, key=lambda n: n.pitch)
                line.append(Note(lowest.pitch, start, min(per_bar, end - start), 85))
        centre = 40
    else:
        source = max(melodic, key=lambda t: len(t.notes))
        line = [replace(n, velocity=max(1, int(n.velocity * 0.8))) for n in source.notes]
        centre = 62
    if line:
        median = sorted(n.pitch for n in line)[len(line) // 2]
        shift = 12 * round((centre - median) / 12)
        line = [replace(n, pitch=into_range(n.pitch + shift, 21, 108)) for n in line]
    return Track(
        name=name, program=program, notes=line[: max(0, room)], pan=0.3 if program in _BASS_PROGRAMS else -0.3
    )


def _drum_part(score: Score, room: int) -> Track:
    """Kick on the first beat, snare on the others, hi-hat on eighths: plain, in any metre."""
    end = max((n.end for t in score.tracks for n in t.notes), default=score.beats_per_bar * 4)
    hits: list[Note] = []
    beat = 0.0
    while beat < end - 1e-9:
        in_bar = beat % score.beats_per_bar
        if in_bar == 0:
            hits.append(Note(36, beat, 0.25, 100))
        elif float(in_bar).is_integer():
            hits.append(Note(38 if int(in_bar) % 2 else 36, beat, 0.25, 90))
        hits.append(Note(42, beat, 0.25, 65))
        beat += 0.5
    return Track(name=_unique_name(score, "drums"), is_drum=True, notes=hits[: max(0, room)], role="drums")


def _s(count: int) -> str:
    return "" if count == 1 else "s"
