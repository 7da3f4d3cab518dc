"""How each genre tends to go: progressions, groove, bass and comping habits.

The composer reads one profile (the first genre it recognises) so that the
form, harmony, bass, comping and drums all agree on what "bossa nova" means.
Unknown genre names fall back to a plain pop-like profile rather than failing.
"""

from __future__ import annotations

from dataclasses import dataclass

# Progressions are scale degrees, 0-based (0 = I/i, 4 = V/v), one chord per harmonic slot.
Progression = tuple[int, ...]



@dataclass(frozen=True)
class GenreProfile:
    """The habits of one genre, as the composer uses them."""

    name: str  # the genre this profile describes
    drum_style: str  # default drum pattern family (one of services.prompting.drum_styles.DRUM_STYLES)
    swing: float  # default swing, 0 straight … 0.33 triplet
    major: tuple[Progression, ...]  # progressions for major-ish modes
    minor: tuple[Progression, ...]  # progressions for minor-ish modes
    bass: str  # bass habit: root, pulse, eighths, walking, octave, offbeat, reggae, bossa, drone, funk
    comp: str  # chord habit: sustain, strum, stabs, offbeat, skank, comp, waltz, arpeggio
    bars_per_chord: int = 1  # harmonic rhythm
    density: float = 0.5  # melodic busyness 0 … 1
    sevenths: bool = False  # add sevenths to chords when the scale allows
    loop_form: bool = False  # a looping form (ambient) instead of intro/A/B/outro
    plagal: bool = False  # end IV → I rather than V → I


_POP_MAJ: tuple[Progression, ...] = ((0, 4, 5, 3), (0, 5, 3, 4), (5, 3, 0, 4), (0, 3, 5, 4))
_POP_MIN: tuple[Progression, ...] = ((0, 5, 2, 6), (0, 3, 5, 4), (0, 6, 5, 6), (0, 5, 3, 4))
_JAZZ_MAJ: tuple[Progression, ...] = ((1, 4, 0, 0), (1, 4, 0, 5), (0, 5, 1, 4), (3, 2, 1, 0))
_JAZZ_MIN: tuple[Progression, ...] = ((1, 4, 0, 0), (0, 3, 1, 4), (0, 5, 1, 4), (3, 6, 2, 5))
_FOLK_MAJ: tuple[Progression, ...] = ((0, 3, 0, 4), (0, 4, 0, 3), (0, 0, 3, 4), (0, 3, 4, 0))
_FOLK_MIN: tuple[Progression, ...] = ((0, 6, 5, 6), (0, 3, 0, 4), (0, 6, 0, 4), (0, 2, 6, 0))
_CLASSICAL_MAJ: tuple[Progression, ...] = ((0, 3, 4, 0), (0, 5, 1, 4), (0, 1, 4, 0), (0, 3, 1, 4))
_CLASSICAL_MIN: tuple[Progression, ...] = ((0, 3, 4, 0), (0, 5, 1, 4), (0, 5, 3, 4), (0, 2, 5, 4))
_AMBIENT: tuple[Progression, ...] = ((0, 3), (0, 5), (0, 2, 3, 0), (0, 4, 5, 3))
_DANCE_MIN: tuple[Progression, ...] = ((0, 5, 2, 6), (0, 6, 5, 6), (0, 0, 5, 6), (0, 3, 5, 4))
_VAMP: tuple[Progression, ...] = ((0, 3), (0, 0, 3, 3), (1, 4), (0, 6))
_BLUES: tuple[Progression, ...] = ((0, 0, 0, 0, 3, 3, 0, 0, 4, 3, 0, 4), (0, 3, 0, 0, 3, 3, 0, 0, 4, 3, 0, 4))
_CITY: tuple[Progression, ...] = ((3, 4, 2, 5), (1, 4, 0, 5), (3, 4, 2, 5, 1, 4, 0, 0))


PROFILES: dict[str, GenreProfile] = {
    p.name: p
    for p in (
        GenreProfile("pop", "rock", 0.0, _POP_MAJ, _POP_MIN, "eighths", "strum", density=0.55),
        GenreProfile(
            "rock", "rock", 0.0, _FOLK_MAJ + _POP_MAJ[:1], _POP_MIN, "eighths", "strum", density=0.5
        ),
        GenreProfile(
            "metal",
            "rock",
            0.0,
            _POP_MIN,
            ((0, 5, 6, 0), (0, 1, 0, 6), (0, 0, 5, 6)),
            "eighths",
            "strum",
            density=0.6,
        ),
        GenreProfile("folk", "rock", 0.0, _FOLK_MAJ, _FOLK_MIN, "root", "strum", density=0.45, plagal=True),
        GenreProfile("country", "rock", 0.0, _FOLK_MAJ, _FOLK_MIN, "pulse", "strum", density=0.5),
        GenreProfile("celtic", "rock", 0.0, _FOLK_MAJ, _FOLK_MIN, "root", "strum", density=0.7),
        GenreProfile(
            "classical", "none", 0.0, _CLASSICAL_MAJ, _CLASSICAL_MIN, "root", "arpeggio", density=0.5
        ),
        GenreProfile(
            "orchestral", "halftime", 0.0, _CLASSICAL_MAJ, _CLASSICAL_MIN, "root", "sustain", density=0.4
        ),
        GenreProfile(
            "cinematic",
            "halftime",
            0.0,
            _CLASSICAL_MAJ,
            ((0, 5, 2, 6), (0, 5, 3, 4)),
            "drone",
            "sustain",
            density=0.35,
            bars_per_chord=2,
        ),
        GenreProfile(
            "ambient",
            "none",
            0.0,
            _AMBIENT,
            _AMBIENT,
            "drone",
            "sustain",
            density=0.15,
            bars_per_chord=2,
            loop_form=True,
            plagal=True,
        ),
        GenreProfile(
            "meditation",
            "none",
            0.0,
            ((0, 3), (0, 4)),
            ((0, 3), (0, 6)),
            "drone",
            "sustain",
            density=0.1,
            bars_per_chord=4,
            loop_form=True,
            plagal=True,
        ),
        GenreProfile(
            "drone",
            "none",
            0.0,
            ((0,),),
            ((0,),),
            "drone",
            "sustain",
            density=0.1,
            bars_per_chord=4,
            loop_form=True,
            plagal=True,
        ),
        GenreProfile(
            "electronic", "four_on_floor", 0.0, _POP_MAJ, _DANCE_MIN, "offbeat", "stabs", density=0.5
        ),
        GenreProfile(
            "house",
            "four_on_floor",
            0.0,
            _CITY,
            _DANCE_MIN,
            "offbeat",
            "offbeat",
            density=0.45,
            sevenths=True,
        ),
        GenreProfile(
            "techno",
            "four_on_floor",
            0.0,
            ((0, 0, 5, 6),),
            ((0, 0, 0, 6), (0, 0, 5, 6)),
            "offbeat",
            "stabs",
            density=0.35,
        ),
        GenreProfile("trance", "four_on_floor", 0.0, _POP_MAJ, _DANCE_MIN, "offbeat", "stabs", density=0.65),
        GenreProfile(
            "disco", "four_on_floor", 0.0, _CITY, _DANCE_MIN, "octave", "offbeat", density=0.55, sevenths=True
        ),
        GenreProfile("drum and bass", "breakbeat", 0.0, _POP_MAJ, _DANCE_MIN, "root", "sustain", density=0.5),
        GenreProfile("synthwave", "rock", 0.0, _POP_MAJ, _DANCE_MIN, "eighths", "sustain", density=0.5),
        GenreProfile("chiptune", "chiptune", 0.0, _POP_MAJ, _POP_MIN, "octave", "arpeggio", density=0.75),
        GenreProfile(
            "lo-fi", "boom_bap", 0.2, _JAZZ_MAJ, _JAZZ_MIN, "root", "comp", density=0.4, sevenths=True
        ),
        GenreProfile(
            "hip hop", "boom_bap", 0.12, _POP_MIN, _POP_MIN, "root", "sustain", density=0.45, sevenths=True
        ),
        GenreProfile(
            "trap",
            "trap",
            0.0,
            ((0, 5), (0, 3, 5, 4)),
            ((0, 5), (0, 5, 3, 4), (0, 6)),
            "root",
            "sustain",
            density=0.45,
        ),
        GenreProfile(
            "jazz", "jazz_swing", 0.3, _JAZZ_MAJ, _JAZZ_MIN, "walking", "comp", density=0.6, sevenths=True
        ),
        GenreProfile(
            "blues", "jazz_swing", 0.3, _BLUES, _BLUES, "walking", "comp", density=0.55, sevenths=True
        ),
        GenreProfile("funk", "breakbeat", 0.08, _VAMP, _VAMP, "funk", "stabs", density=0.6, sevenths=True),
        GenreProfile("soul", "boom_bap", 0.1, _CITY, _JAZZ_MIN, "root", "comp", density=0.5, sevenths=True),
        GenreProfile(
            "r&b", "boom_bap", 0.12, _CITY, _JAZZ_MIN, "root", "sustain", density=0.5, sevenths=True
        ),
        GenreProfile(
            "gospel",
            "rock",
            0.15,
            _CITY + _FOLK_MAJ[:1],
            _JAZZ_MIN,
            "root",
            "comp",
            density=0.5,
            sevenths=True,
            plagal=True,
        ),
        GenreProfile("city pop", "rock", 0.0, _CITY, _JAZZ_MIN, "octave", "comp", density=0.6, sevenths=True),
        GenreProfile(
            "reggae",
            "reggae",
            0.1,
            ((0, 3), (0, 4, 3, 4), (0, 5, 3, 4)),
            ((0, 3), (0, 6)),
            "reggae",
            "skank",
            density=0.45,
        ),
        GenreProfile(
            "bossa nova", "bossa", 0.0, _JAZZ_MAJ, _JAZZ_MIN, "bossa", "comp", density=0.5, sevenths=True
        ),
        GenreProfile(
            "latin",
            "latin",
            0.0,
            ((0, 3, 4, 3), (0, 4)),
            ((0, 3, 4, 0), (0, 6, 5, 4)),
            "bossa",
            "stabs",
            density=0.6,
        ),
        GenreProfile("waltz", "waltz", 0.0, _CLASSICAL_MAJ, _CLASSICAL_MIN, "root", "waltz", density=0.5),
        GenreProfile(
            "march",
            "march",
            0.0,
            ((0, 4, 0, 4), (0, 3, 4, 0)),
            ((0, 4, 0, 4), (0, 3, 4, 0)),
            "pulse",
            "strum",
            density=0.55,
        ),
    )
}

_ALIASES = {
    "lofi": "lo-fi",
    "lo fi": "lo-fi",
    "hiphop": "hip hop",
    "hip-hop": "hip hop",
    "rap": "hip hop",
    "dnb": "drum and bass",
    "drum & bass": "drum and bass",
    "drum n bass": "drum and bass",
    "edm": "electronic",
    "bossa": "bossa nova",
    "rnb": "r&b",
    "r and b": "r&b",
    "orchestra": "orchestral",
    "film": "cinematic",
    "8-bit": "chiptune",
    "8 bit": "chiptune",
    "retrowave": "synthwave",
    "heavy metal": "metal",
    "dance": "electronic",
    "swing": "jazz",
}


def normalise_genre(name: str) -> str:
    """Lower-case, unify separators and common spellings: 'Hip-Hop' → 'hip hop'."""
    key = " ".join(name.lower().replace("_", " ").split())
    if key in PROFILES:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    key = key.replace("-", " ")
    return _ALIASES.get(key, key)


def profile_for(genres: tuple[str, ...]) -> GenreProfile:
    """The profile of the strongest genre we know; pop when none is known."""
    for g in genres:
        name = normalise_genre(g)
        if name in PROFILES:
            return PROFILES[name]
    return PROFILES["pop"]
