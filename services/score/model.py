"""The score: what the styles composer and the notes backend both produce.

One model, one renderer, one MIDI writer, one constraint checker. Times are in
beats (quarter notes), so tempo can change without touching the notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.score.theory import Key


@dataclass(frozen=True)
class Note:
    """One note (or one drum hit on a drum track)."""

    pitch: int  # MIDI note number 0–127; on a drum track the General MIDI percussion key
    start: float  # onset, in beats from the start of the piece
    duration: float  # length in beats, > 0
    velocity: int = 90  # MIDI velocity 1–127

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass
class Track:
    """One instrument part."""

    name: str  # human name shown in summaries ("piano", "bass", "drums")
    program: int = 0  # General MIDI program 0–127; ignored when is_drum
    is_drum: bool = False  # rendered on the GM percussion channel (10)
    notes: list[Note] = field(default_factory=list)
    pan: float = 0.0  # stereo position, -1 (left) … 1 (right)
    volume: float = 0.8  # track gain 0–1 (MIDI channel volume)
    role: str = ""  # composer's role for it: lead, chords, bass, pad, arp, drums

    def end_beat(self) -> float:
        return max((n.end for n in self.notes), default=0.0)


@dataclass(frozen=True)
class Section:
    """A named span of the form (intro, A, B, outro), for summaries and energy."""

    name: str
    start_beat: float
    end_beat: float
    energy: float = 0.5  # 0 (sparse, soft) … 1 (full, loud)


@dataclass
class Score:
    """A whole piece: tempo, metre, key and the tracks that play it."""

    tempo_bpm: float  # quarter-note beats per minute, 20–300
    tracks: list[Track] = field(default_factory=list)
    time_signature: tuple[int, int] = (4, 4)  # (numerator, denominator)
    key: Key | None = None  # tonal centre, when the piece has one
    title: str = ""
    sections: list[Section] = field(default_factory=list)
    length_beats: float | None = None  # intended length; defaults to the last note's end

    @property
    def beats_per_bar(self) -> float:
        """Quarter-note beats in one bar (3/4 → 3, 6/8 → 3, 4/4 → 4)."""
        num, den = self.time_signature
        return num * 4.0 / den

    def end_beat(self) -> float:
        last = max((t.end_beat() for t in self.tracks), default=0.0)
        return max(last, self.length_beats or 0.0)

    def seconds_per_beat(self) -> float:
        return 60.0 / self.tempo_bpm

    def duration_seconds(self) -> float:
        return self.end_beat() * self.seconds_per_beat()

    def note_count(self) -> int:
        return sum(len(t.notes) for t in self.tracks)

    def melodic_tracks(self) -> list[Track]:
        return [t for t in self.tracks if not t.is_drum]

    def drum_tracks(self) -> list[Track]:
        return [t for t in self.tracks if t.is_drum]
