"""What a piece was measured to be, as plain data: it rides in MusicResult (SQLite rows, Redis), so this
module imports nothing heavy — the bot process loads it at start-up; the measuring code it does not."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Heard:
    """What a piece sounds like, as measured."""

    duration_s: float
    loudness_lufs: float | None  # None: too quiet to measure
    tempo_bpm: float | None  # None: no steady beat was heard
    tempo_confidence: float
    tempo_levels: tuple[float, ...]  # the same pulse at other beat levels, most likely first
    key: str | None  # "D minor"; None: no tonal centre heard
    key_confidence: float
    key_close: tuple[str, ...]  # other keys the audio fits as well (within services/heard/key.KEY_TIE)
    drums: bool | None  # None: not measured (audio made at a rate too low to hear cymbals)
    percussive_share: float | None
    outside_share: float | None = None  # for a stated pitch set: share of pitch energy outside it
