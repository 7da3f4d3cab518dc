"""Pitch names, keys and modes: the small music theory every backend shares.

Kept free of any backend so the interpreter, the composer, the notes backend's
constraint checker and the renderer all agree on what "F# dorian" means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Pitch-class names used for display; sharps by default, flats where the key prefers them.
SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")

_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

# Semitone steps of each mode above its tonic.
MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11),
    "major pentatonic": (0, 2, 4, 7, 9),
    "minor pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
}

# Spellings people type for modes, mapped to the names above.
MODE_ALIASES: dict[str, str] = {
    "maj": "major",
    "major": "major",
    "ionian": "major",
    "min": "minor",
    "minor": "minor",
    "m": "minor",
    "aeolian": "minor",
    "dorian": "dorian",
    "phrygian": "phrygian",
    "lydian": "lydian",
    "mixolydian": "mixolydian",
    "locrian": "locrian",
    "harmonic minor": "harmonic minor",
    "major pentatonic": "major pentatonic",
    "minor pentatonic": "minor pentatonic",
    "pentatonic": "major pentatonic",
    "blues": "blues",
}

_PITCH_CLASS_RE = re.compile(r"^\s*([A-Ga-g])\s*(#|♯|b|♭|sharp|flat)?\s*$")
_PITCH_RE = re.compile(r"^\s*([A-Ga-g])(#|♯|b|♭)?(-?[0-9])\s*$")
_KEY_RE = re.compile(
    r"^\s*([A-Ga-g])\s*(#|♯|b|♭|sharp|flat)?\s*"
    r"(harmonic minor|major pentatonic|minor pentatonic|pentatonic|major|minor|maj|min|ionian|aeolian|"
    r"dorian|phrygian|lydian|mixolydian|locrian|blues|m)?\s*$",
    re.IGNORECASE,
)


def _accidental(sign: str | None) -> int:
    if not sign:
        return 0
    sign = sign.lower()
    if sign in ("#", "♯", "sharp"):
        return 1
    return -1


def parse_pitch_class(text: str) -> int:
    """'F#' → 6, 'Bb' → 10. Raises ValueError for anything else."""
    m = _PITCH_CLASS_RE.match(text)
    if not m:
        raise ValueError(f"not a note name: {text!r}")
    return (_LETTER_PC[m.group(1).upper()] + _accidental(m.group(2))) % 12


def parse_pitch(text: str) -> int:
    """Scientific pitch notation to a MIDI number: 'C4' → 60, 'Bb3' → 58, 'F#5' → 78."""
    m = _PITCH_RE.match(text)
    if not m:
        raise ValueError(f"not a pitch: {text!r}")
    midi = 12 * (int(m.group(3)) + 1) + _LETTER_PC[m.group(1).upper()] + _accidental(m.group(2))
    if not 0 <= midi <= 127:
        raise ValueError(f"pitch out of MIDI range: {text!r}")
    return midi


def pitch_name(midi: int, *, flats: bool = False) -> str:
    """MIDI number to scientific pitch notation: 61 → 'C#4' (or 'Db4' with flats)."""
    names = FLAT_NAMES if flats else SHARP_NAMES
    return f"{names[midi % 12]}{midi // 12 - 1}"


@dataclass(frozen=True)
class Key:
    """A tonal centre and a mode; the composer builds its chords and melody from it."""

    tonic: int  # pitch class of the tonic, 0 = C … 11 = B
    mode: str = "major"  # one of MODES

    def __post_init__(self) -> None:
        if not 0 <= self.tonic <= 11:
            raise ValueError(f"tonic must be a pitch class 0–11, got {self.tonic}")
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}")

    @classmethod
    def parse(cls, text: str) -> Key:
        """'A minor', 'F#m', 'Bb major', 'D dorian', 'c' → Key. Raises ValueError."""
        m = _KEY_RE.match(text.replace("-", " "))
        if not m:
            raise ValueError(f"not a key: {text!r}")
        tonic = (_LETTER_PC[m.group(1).upper()] + _accidental(m.group(2))) % 12
        raw_mode = (m.group(3) or "major").lower()
        if raw_mode == "m" and m.group(3) == "M":
            raw_mode = "major"
        return cls(tonic, MODE_ALIASES[raw_mode])

    @property
    def is_minor(self) -> bool:
        """True for modes whose third is minor (minor, dorian, phrygian, locrian, …)."""
        return 3 in MODES[self.mode] and 4 not in MODES[self.mode]

    @property
    def uses_flats(self) -> bool:
        # Keys whose signature has flats read better spelled with flats.
        major_tonic = (self.tonic + 3) % 12 if self.is_minor else self.tonic
        return major_tonic in (5, 10, 3, 8, 1, 6) and major_tonic != 6

    def pitch_classes(self) -> frozenset[int]:
        """The pitch classes of this key's scale."""
        return frozenset((self.tonic + step) % 12 for step in MODES[self.mode])

    def scale(self) -> tuple[int, ...]:
        """Scale steps above the tonic, in order (for degree arithmetic)."""
        return MODES[self.mode]

    def name(self) -> str:
        names = FLAT_NAMES if self.uses_flats else SHARP_NAMES
        return f"{names[self.tonic]} {self.mode}"

    def __str__(self) -> str:
        return self.name()


def pitch_class_names(pcs: frozenset[int] | set[int], *, flats: bool = False) -> str:
    """{9, 11, 1} → 'A, B, C#' in ascending order from C."""
    names = FLAT_NAMES if flats else SHARP_NAMES
    return ", ".join(names[pc] for pc in sorted(pcs))


def parse_time_signature(text: str) -> tuple[int, int]:
    """'3/4' → (3, 4). Numerator 1–15, denominator 1, 2, 4, 8 or 16."""
    m = re.match(r"^\s*([0-9]{1,2})\s*/\s*([0-9]{1,2})\s*$", text)
    if not m:
        raise ValueError(f"not a time signature: {text!r}")
    num, den = int(m.group(1)), int(m.group(2))
    if not 1 <= num <= 15 or den not in (1, 2, 4, 8, 16):
        raise ValueError(f"unsupported time signature: {text!r}")
    return num, den
