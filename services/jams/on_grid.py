"""Every jam segment on the jam's grid: at the jam's tempo and key, and starting on a downbeat.

A model backend plays "120 bpm in A minor" as it likes and begins wherever it begins, so its segments
would cross-fade between beats. The measurement that checks every reply (services/heard/) puts each one
right: stretch to the jam's tempo and shift to its key within the bounds listeners don't hear as damage
(services/heard/correct.py), then cut the lead-in so the segment starts on its first downbeat. Segments
rendered from a score (styles, notes) are on the grid by construction; they are checked, and a miss is a
bug, logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from services.audio.types import Audio
from services.heard.correct import MIN_PULSE, apply, plan
from services.heard.grid import beat_grid, grid_of
from services.heard.measure import measure
from services.heard.onsets import onset_envelope, spectrum
from services.heard.report import tempo_matches
from services.heard.tempo import estimate_tempo

log = logging.getLogger(__name__)

OFF_GRID_S = 0.03  # a score-rendered segment whose first beat is further than this from 0 is a bug
MIN_MOVE_S = 0.005  # lead-ins shorter than this are left alone (a fraction of a frame of the measurement)


@dataclass(frozen=True)
class GridFix:
    """What was done to put one segment on the grid."""

    stretched_from: float | None = None  # the tempo it was heard at, when it was stretched
    shifted_from: str | None = None  # the key it was heard in, when it was shifted
    lead_in_s: float = 0.0  # seconds cut from its start so it begins on its downbeat
    on_downbeat: bool = False  # the cut found a bar's one (accented), not only a beat
    refused: tuple[str, ...] = ()  # what could not be honoured, in words

    def describe(self) -> str | None:
        """'stretched from 116 bpm, 0.21 s of lead-in cut to start on its downbeat', or None."""
        parts = []
        if self.stretched_from is not None:
            parts.append(f"stretched from {self.stretched_from:.0f} bpm")
        if self.shifted_from is not None:
            parts.append(f"shifted from {self.shifted_from}")
        if self.lead_in_s >= MIN_MOVE_S:
            where = "downbeat" if self.on_downbeat else "beat"
            parts.append(f"{self.lead_in_s:.2f} s of lead-in cut to start on its {where}")
        return ", ".join(parts) or None


def put_on_grid(audio: Audio, *, bpm: float, key: str, beats_per_bar: int) -> tuple[Audio, GridFix]:
    """`audio` at `bpm` in `key`, starting on its first downbeat (or beat, when no beat of the bar stands
    out); unchanged where there is no steady pulse to put anywhere (a drone, noise)."""
    heard = measure(audio, stated_bpm=bpm)
    if heard.tempo_bpm is None or heard.tempo_confidence < MIN_PULSE:
        return audio, GridFix()
    fix = plan(heard, tempo=bpm, key=key)
    stretched_from = heard.tempo_bpm if fix.tempo_ratio is not None else None
    shifted_from = heard.key if fix.semitones is not None else None
    if fix.changes:
        audio = apply(audio, fix)
    elif not tempo_matches(heard.tempo_bpm, bpm):
        # too far off to stretch: its beats are not the jam's, so cutting to one of them would not help
        return audio, GridFix(refused=fix.refused)
    grid = beat_grid(audio, bpm, beats_per_bar)
    start_s = grid.downbeat_s if grid.accented else grid.first_beat_s
    start = int(round(start_s * audio.sample_rate))
    if start_s >= MIN_MOVE_S and start < audio.frames:
        audio = Audio(audio.samples[:, start:].copy(), audio.sample_rate)
    else:
        start_s = 0.0
    return audio, GridFix(stretched_from, shifted_from, start_s, grid.accented, fix.refused)


def check_on_grid(audio: Audio, *, bpm: float, beats_per_bar: int, what: str) -> bool:
    """For a segment rendered from a score: True when its beats fall on the grid; a miss is logged.
    Only tempo and beats are read, from one spectrum (key, drums and loudness are not needed here)."""
    spec = spectrum(audio)
    env = onset_envelope(spec)
    tempo = estimate_tempo(env, spec.frame_rate, stated=bpm)
    if tempo.bpm is None or tempo.confidence < MIN_PULSE:
        return True  # nothing steady to check (a drone): not a miss
    beat_s = 60.0 / bpm
    first = grid_of(spec, env, bpm, beats_per_bar).first_beat_s
    off = min(first, beat_s - first)
    if not tempo_matches(tempo.bpm, bpm) or off > OFF_GRID_S:
        log.warning(
            "%s: rendered from a score at %s bpm, but heard at %s bpm with its beats %.3f s off the grid",
            what,
            bpm,
            tempo.bpm,
            off,
        )
        return False
    return True
