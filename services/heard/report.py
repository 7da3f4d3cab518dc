"""Asked → heard, in words: "tempo 92 bpm → heard 92 ✓", "key D minor → heard F major ✗".

Only what was measured is claimed: no steady beat heard is said so, never guessed. A backend that builds
its music from a score (styles, notes) honours tempo and key by construction, so a disagreement there is
a bug in the renderer: the caller logs it.
"""

from __future__ import annotations

from services.heard.types import Heard

# beat levels at which the same pulse can be heard (mirrors services/heard/tempo.LEVELS, without numpy)
LEVELS = (0.5, 2.0 / 3.0, 0.75, 1.0, 4.0 / 3.0, 1.5, 2.0)

TEMPO_TOLERANCE_BPM = 1.0
_LEVEL_NAMES = {
    0.5: "half time",
    2.0: "double time",
    2.0 / 3.0: "a dotted beat",
    1.5: "a dotted beat",
    0.75: "three against four",
    4.0 / 3.0: "four against three",
}


def tempo_matches(heard: float | None, asked: float) -> bool:
    return heard is not None and abs(heard - asked) <= TEMPO_TOLERANCE_BPM


def key_matches(heard: str | None, asked: str) -> bool:
    return heard is not None and _normal(heard) == _normal(asked)


def key_heard(heard: Heard, asked: str) -> bool:
    """The asked key is what was heard, or fits the audio exactly as well as what was heard."""
    return key_matches(heard.key, asked) or any(key_matches(other, asked) for other in heard.key_close)


def asked_heard_lines(
    heard: Heard, *, tempo: float | None, key: str | None, drums: bool | None = None
) -> list[str]:
    """One line per value that was asked and measured, plus what was heard of the rest."""
    lines: list[str] = []
    if tempo is not None:
        if heard.tempo_bpm is None:
            lines.append(f"tempo {tempo:g} bpm → no steady beat heard")
        elif tempo_matches(heard.tempo_bpm, tempo):
            lines.append(f"tempo {tempo:g} bpm → heard {heard.tempo_bpm:.0f} ✓")
        else:
            level = _level(heard.tempo_bpm, tempo)
            how = f" ({level})" if level else ""
            lines.append(f"tempo {tempo:g} bpm → heard {heard.tempo_bpm:.0f}{how} ✗")
    elif heard.tempo_bpm is not None:
        lines.append(f"tempo → heard {heard.tempo_bpm:.0f} bpm")
    if key is not None:
        if key_matches(heard.key, key):
            lines.append(f"key {key} → heard {heard.key} ✓")
        elif any(key_matches(other, key) for other in heard.key_close):
            lines.append(f"key {key} → heard {key} ✓ (it fits {heard.key} as well)")
        else:
            lines.append(f"key {key} → heard {heard.key or 'no clear key'} ✗")
    elif heard.key is not None:
        lines.append(f"key → heard {heard.key}")
    if drums is not None and heard.drums is not None:
        mark = "✓" if heard.drums is drums else "✗"
        lines.append(f"drums {'yes' if drums else 'no'} → heard {'drums' if heard.drums else 'none'} {mark}")
    lines.append(
        f"length → {heard.duration_s:.1f} s"
        + (f", {heard.loudness_lufs:.0f} LUFS" if heard.loudness_lufs is not None else "")
    )
    return lines


def _level(heard: float, asked: float) -> str | None:
    for k in LEVELS:
        if k != 1.0 and abs(heard - asked * k) <= TEMPO_TOLERANCE_BPM * max(1.0, k):
            return _LEVEL_NAMES.get(k)
    return None


def _normal(key: str) -> str:
    """'Eb minor' and 'D# minor', 'A Minor' and 'A minor' are the same key; 'G lydian' is heard as G major."""
    enharmonic = {
        "Db": "C#",
        "D#": "Eb",
        "Gb": "F#",
        "G#": "Ab",
        "A#": "Bb",
        "Cb": "B",
        "Fb": "E",
        "E#": "F",
        "B#": "C",
    }
    parts = key.strip().split()
    if not parts:
        return ""
    tonic = parts[0][:1].upper() + parts[0][1:]
    mode = " ".join(parts[1:]).lower() or "major"
    # a modal score (G lydian, D dorian) is heard by its colour: the estimator knows major and minor
    colour = "minor" if mode in _MINOR_MODES else "major"
    return f"{enharmonic.get(tonic, tonic)} {colour}"


_MINOR_MODES = {
    "minor",
    "aeolian",
    "dorian",
    "phrygian",
    "locrian",
    "harmonic minor",
    "minor pentatonic",
    "blues",
    "m",
}
