"""StyleSpec: everything the styles interpreter understood from a prompt.

The interpreter fills it, the composer reads it, and the summary shows it — with
the words that caused each part — so a user sees what the bot heard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from services.score.theory import Key

EvidenceSource = Literal["explicit", "option", "keyword", "meaning", "sentiment", "default", "genre"]

# Fields a prompt (or a command option) can state outright; stated fields always win.
ExplicitField = Literal["tempo", "key", "metre", "instruments", "drums", "pitch_set", "duration", "genre"]


@dataclass(frozen=True)
class Evidence:
    """One thing the interpreter decided, and why."""

    what: str  # which aspect: "tempo", "key", "genre", "mood", "instrument", …
    value: str  # what it decided, for display: "72 bpm", "A minor", "lo-fi"
    words: tuple[str, ...]  # the prompt words that caused it (empty for defaults)
    source: EvidenceSource  # how it was decided


@dataclass(frozen=True)
class InstrumentPart:
    """One part the composer should write, with the GM program that plays it."""

    role: str  # "lead", "chords", "bass", "pad", "arp" or "drums"
    program: int  # General MIDI program 0–127 (ignored for drums)
    name: str  # what to call it in summaries: "piano", "cello", "drum kit"


@dataclass(frozen=True)
class StyleSpec:
    """The understood style of a prompt. All fields are resolved (no unknowns)."""

    prompt: str  # the prompt as given
    genres: tuple[str, ...]  # genre tags, strongest first; the first drives form, drums and harmony
    moods: tuple[str, ...]  # mood tags, strongest first
    tags: tuple[str, ...]  # every vocabulary tag matched (genres, moods, activities, instruments, eras)
    valence: float  # -1 (sad, dark) … 1 (happy, bright)
    arousal: float  # 0 (calm) … 1 (energetic)
    tempo_bpm: float  # quarter-note beats per minute
    key: Key  # tonic and mode
    time_signature: tuple[int, int]  # (numerator, denominator)
    parts: tuple[InstrumentPart, ...]  # the parts to write; drums appear as role "drums" when wanted
    drums: bool  # whether there is a drum part
    energy_curve: tuple[float, ...]  # energy 0–1 per section, in order (drives density and dynamics)
    duration_s: float  # wanted length in seconds
    pitch_set: frozenset[int] | None = None  # allowed pitch classes for every melodic note, when stated
    drum_style: str = ""  # drum pattern family (vocabulary.DRUM_STYLES); "" lets the genre decide
    swing: float | None = None  # 0 straight … 0.33 triplet swing; None lets the genre decide
    explicit: frozenset[str] = frozenset()  # ExplicitField values the prompt or options stated
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)  # why, for the summary

    @property
    def lead(self) -> InstrumentPart | None:
        return next((p for p in self.parts if p.role == "lead"), None)

    def summary_lines(self) -> list[str]:
        """One line per decision: 'tempo: 72 bpm ← "72 bpm" (stated)'."""
        lines = []
        for ev in self.evidence:
            cause = ", ".join(f'"{w}"' for w in ev.words) if ev.words else ""
            how = {
                "explicit": "stated",
                "option": "command option",
                "keyword": "keyword",
                "meaning": "by meaning",
                "sentiment": "sentiment",
                "default": "default",
                "genre": "from the genre",
            }[ev.source]
            lines.append(f"{ev.what}: {ev.value}" + (f" ← {cause}" if cause else "") + f" ({how})")
        return lines
