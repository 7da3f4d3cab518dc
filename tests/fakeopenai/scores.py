"""Exchange-format scores for scripting the fake model (what an LLM would write)."""

from __future__ import annotations

from typing import Any


def score_dict(
    tracks: list[dict[str, Any]],
    *,
    tempo_bpm: float = 100,
    time_signature: str = "4/4",
    key: str | None = "A major",
    title: str = "Test Piece",
) -> dict[str, Any]:
    """A whole exchange-format score around `tracks`."""
    out: dict[str, Any] = {"title": title, "tempo_bpm": tempo_bpm, "time_signature": time_signature}
    if key is not None:
        out["key"] = key
    out["tracks"] = tracks
    return out


def line(
    name: str, instrument: str, pitches: list[str], *, beats: float = 1.0, repeat: int = 1
) -> dict[str, Any]:
    """A track playing `pitches` one after another, each `beats` long, `repeat` times over."""
    notes = []
    start = 0.0
    for _ in range(repeat):
        for pitch in pitches:
            notes.append({"pitch": pitch, "start": start, "duration": beats, "velocity": 90})
            start += beats
    return {"name": name, "instrument": instrument, "notes": notes}


def folk_score(
    melody: list[str] | None = None, *, bars: int = 4, with_bass: bool = True, with_guitar: bool = True
) -> dict[str, Any]:
    """A small folk tune: fiddle melody, guitar chords and a bass line, `bars` bars of 4/4.

    The default melody keeps to A, B, C#, F# and G; pass one with other notes to break a pitch set.
    """
    tune = melody or ["A4", "B4", "C#5", "A4", "F#4", "G4", "A4", "B4"]
    per_bar = 4
    length = bars * per_bar
    fiddle_notes = [
        {"pitch": tune[i % len(tune)], "start": i * 1.0, "duration": 1.0, "velocity": 96}
        for i in range(length)
    ]
    tracks: list[dict[str, Any]] = [{"name": "fiddle", "instrument": "violin", "notes": fiddle_notes}]
    if with_guitar:
        chords = [["A3", "C#4"], ["F#3", "A3"], ["G3", "B3"], ["A3", "C#4"]]
        guitar = [
            {"pitch": p, "start": bar * 4.0 + half * 2.0, "duration": 2.0, "velocity": 70}
            for bar in range(bars)
            for half in range(2)
            for p in chords[bar % len(chords)]
        ]
        tracks.append({"name": "guitar", "instrument": "acoustic guitar (steel)", "notes": guitar})
    if with_bass:
        roots = ["A2", "F#2", "G2", "A2"]
        bass = [
            {
                "pitch": roots[bar % len(roots)],
                "start": bar * 4.0 + beat * 2.0,
                "duration": 2.0,
                "velocity": 90,
            }
            for bar in range(bars)
            for beat in range(2)
        ]
        tracks.append({"name": "bass", "instrument": "acoustic bass", "notes": bass})
    return score_dict(tracks, tempo_bpm=110, key="A major", title="Hillside")
