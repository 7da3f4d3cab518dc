"""MusicGen's record: the model lane (one shared, batched model per checkpoint)."""

from __future__ import annotations

from services.backends.abilities import Ability
from services.backends.base import Backend
from services.backends.musicgen import availability
from services.backends.musicgen.config import MusicgenConfig
from services.backends.record import BackendRecord, Lane


def build(config: MusicgenConfig) -> Backend:
    from services.backends.musicgen.backend import MusicgenBackend  # transformers loads with the model

    return MusicgenBackend(config)


RECORD = BackendRecord(
    name="musicgen",
    description=(
        "Meta's MusicGen (weights CC-BY-NC 4.0, non-commercial): instrumentals from words or a melody "
        "you hum or attach, continued past 30 s."
    ),
    lane=Lane.MODEL,
    abilities=frozenset({Ability.TEXT, Ability.AUDIO_IN, Ability.EXTEND, Ability.CONTINUES_AUDIO}),
    config=MusicgenConfig.from_settings,
    check=availability.check,
    factory=build,
    first_estimate_s=40.0,
)
