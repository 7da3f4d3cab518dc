"""The exchange format an LLM writes (../shared/score-format.md), read strictly into a Score.

Pydantic checks the shape (and refuses NaN/Infinity, which JSON parsers let
through); `to_score` then reads names — pitches, drum sounds, instruments, keys —
with the same tables the styles backend uses. Every problem is reported with
where it is ("track 'fiddle', note 3: …") so the model can fix exactly that.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.score import gm
from services.score.model import Note, Score, Track
from services.score.theory import Key, parse_pitch, parse_time_signature

MAX_TRACKS = 16
MAX_REPORTED_PROBLEMS = 12  # longer lists are cut with "… and N more" to keep feedback short

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)


class NoteIn(BaseModel):
    """One note as the model writes it."""

    model_config = _STRICT

    pitch: Annotated[str, Field(min_length=1, max_length=40)] | Annotated[int, Field(ge=0, le=127)] = Field(
        description="scientific pitch (C4 = MIDI 60, F#5, Bb3) or MIDI 0-127; on a drums track a GM drum name"
    )
    start: float = Field(ge=0, description="onset in beats (quarter notes) from the start")
    duration: float = Field(gt=0, description="length in beats")
    velocity: int = Field(90, ge=1, le=127, description="loudness 1-127")


class TrackIn(BaseModel):
    """One instrument part."""

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=40, description="the part's name, e.g. 'fiddle'")
    instrument: Annotated[str, Field(min_length=1, max_length=60)] | Annotated[int, Field(ge=0, le=127)] = (
        Field(description="General MIDI program name or number 0-127, or 'drums'")
    )
    notes: list[NoteIn]


class ScoreIn(BaseModel):
    """A whole piece."""

    model_config = _STRICT

    title: str = Field("", max_length=100)
    tempo_bpm: float = Field(ge=20, le=300, description="quarter-note beats per minute")
    time_signature: str = Field("4/4", pattern=r"^\s*\d{1,2}\s*/\s*\d{1,2}\s*$")
    key: str | None = Field(None, max_length=40, description="e.g. 'A major', 'F# minor', 'D dorian'")
    tracks: list[TrackIn] = Field(min_length=1, max_length=MAX_TRACKS)


class ExchangeError(ValueError):
    """The model's score could not be read; `problems` lists each issue with its place."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:MAX_REPORTED_PROBLEMS]
        more = len(problems) - len(shown)
        text = "; ".join(shown) + (f"; … and {more} more" if more > 0 else "")
        super().__init__(f"the score is not valid: {text}")


def score_schema() -> dict[str, Any]:
    """The JSON schema sent as the structured-output format (and quoted in the prompt)."""
    return ScoreIn.model_json_schema()


def parse_score_json(data: Any) -> ScoreIn:
    """Validate parsed JSON against the format; ExchangeError lists every problem with its place."""
    try:
        return ScoreIn.model_validate(data)
    except ValidationError as exc:
        raise ExchangeError(_describe_errors(exc, data)) from None


def _describe_errors(exc: ValidationError, data: Any) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for error in exc.errors():
        where = _where(error["loc"], data)
        message = error["msg"]
        if error["type"] in ("float_parsing", "finite_number"):
            message = "must be a finite number"
        elif error["type"] == "extra_forbidden":
            message = "is not a field of this format"
        text = f"{where}: {message}" if where else message
        if text not in seen:  # a union field reports each alternative; one line is enough
            seen.add(text)
            problems.append(text)
    return problems


def _where(loc: tuple[int | str, ...], data: Any) -> str:
    """('tracks', 0, 'notes', 3, 'pitch') → "track 'fiddle', note 4, pitch"."""
    parts: list[str] = []
    i = 0
    while i < len(loc):
        item = loc[i]
        if item == "tracks" and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            index = int(loc[i + 1])
            name = _track_name(data, index)
            parts.append(f"track {name!r}" if name else f"track {index + 1}")
            i += 2
        elif item == "notes" and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            parts.append(f"note {int(loc[i + 1]) + 1}")
            i += 2
        elif isinstance(item, str) and item not in (
            "str",
            "int",
            "float",
            "constrained-str",
            "constrained-int",
        ):
            parts.append(item)
            i += 1
        else:
            i += 1
    return ", ".join(parts)


def _track_name(data: Any, index: int) -> str | None:
    try:
        name = data["tracks"][index]["name"]
    except (KeyError, IndexError, TypeError):
        return None
    return name if isinstance(name, str) and name.strip() else None


# --- names → numbers ---------------------------------------------------------------------------------

_DRUM_WORDS = {"drums", "drum", "drum kit", "drumkit", "percussion", "kit", "drum set", "drumset"}


def is_drum_instrument(instrument: str | int) -> bool:
    return isinstance(instrument, str) and gm.normalise_name(instrument) in {
        gm.normalise_name(w) for w in _DRUM_WORDS
    }


def read_program(instrument: str | int) -> int:
    """'violin' → 40, 'Acoustic Grand Piano' → 0, 42 → 42. ValueError names what is wrong."""
    if isinstance(instrument, int):
        return instrument
    program = gm.program_for_name(instrument)
    if program is None:
        raise ValueError(f"instrument {instrument!r} is not a General MIDI program name or number 0-127")
    return program


def read_pitch(pitch: str | int) -> int:
    """'C#5' → 73, 60 → 60, '60' → 60. ValueError explains the accepted forms."""
    if isinstance(pitch, int):
        return pitch
    text = pitch.strip().replace("♯", "#").replace("♭", "b")
    if re.fullmatch(r"[0-9]{1,3}", text):
        value = int(text)
        if 0 <= value <= 127:
            return value
    try:
        return parse_pitch(text)
    except ValueError:
        raise ValueError(
            f"pitch {pitch!r} is not a note: use scientific pitch notation such as C4, F#5 or Bb3"
        ) from None


def read_drum(pitch: str | int) -> int:
    """'kick' → 36, 'closed hihat' → 42, 38 → 38 (keys 35-81)."""
    if isinstance(pitch, int):
        if pitch in gm.DRUM_NAMES:
            return pitch
        raise ValueError(f"drum key {pitch} is not a General MIDI percussion key (35-81)")
    key = gm.drum_key_for_name(pitch)
    if key is None:
        raise ValueError(
            f"{pitch!r} is not a General MIDI drum sound (try kick, snare, closed hihat, crash …)"
        )
    return key


def to_score(parsed: ScoreIn) -> Score:
    """The internal Score; ExchangeError when names cannot be read (all problems at once)."""
    problems: list[str] = []
    try:
        time_signature = parse_time_signature(parsed.time_signature)
    except ValueError:
        problems.append(
            f"time_signature {parsed.time_signature!r} is not N/D with N 1-15 and D 1, 2, 4, 8 or 16"
        )
        time_signature = (4, 4)
    key: Key | None = None
    if parsed.key:
        try:
            key = Key.parse(parsed.key)
        except ValueError:
            problems.append(f"key {parsed.key!r} is not a key such as 'A major', 'F# minor' or 'D dorian'")
    tracks: list[Track] = []
    used_names: set[str] = set()
    for track_in in parsed.tracks:
        label = f"track {track_in.name!r}"
        drum = is_drum_instrument(track_in.instrument)
        program = 0
        if not drum:
            try:
                program = read_program(track_in.instrument)
            except ValueError as exc:
                problems.append(f"{label}: {exc}")
        notes: list[Note] = []
        for number, note_in in enumerate(track_in.notes, start=1):
            try:
                pitch = read_drum(note_in.pitch) if drum else read_pitch(note_in.pitch)
            except ValueError as exc:
                problems.append(f"{label}, note {number}: {exc}")
                continue
            notes.append(Note(pitch, float(note_in.start), float(note_in.duration), int(note_in.velocity)))
        name = _unique(track_in.name, used_names)
        tracks.append(
            Track(name=name, program=program, is_drum=drum, notes=notes, role="drums" if drum else "")
        )
    if problems:
        raise ExchangeError(problems)
    return Score(
        tempo_bpm=float(parsed.tempo_bpm),
        tracks=tracks,
        time_signature=time_signature,
        key=key,
        title=parsed.title,
    )


def _unique(name: str, used: set[str]) -> str:
    """Track names must differ (the checker and the summary key on them): 'violin', 'violin 2', …"""
    candidate, n = name, 2
    while candidate.lower() in used:
        candidate = f"{name} {n}"
        n += 1
    used.add(candidate.lower())
    return candidate


def read_reply(data: Any) -> Score:
    """Parsed JSON → Score, or ExchangeError listing what to fix."""
    return to_score(parse_score_json(data))
