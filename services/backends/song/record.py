"""The song backend's record: ACE-Step 1.5 on the model lane (one shared, batched pipeline)."""

from __future__ import annotations

from services.backends.abilities import Ability
from services.backends.base import Backend
from services.backends.record import BackendRecord, Lane
from services.backends.song import availability
from services.backends.song.config import SongConfig


def build(config: SongConfig) -> Backend:
    from services.backends.song.backend import SongBackend  # diffusers loads with the model

    return SongBackend(config)


RECORD = BackendRecord(
    name="song",
    description="ACE-Step 1.5 (MIT): songs sung with your lyrics, tempo, key and metre; covers, stems.",
    lane=Lane.MODEL,
    abilities=frozenset({Ability.TEXT, Ability.LYRICS, Ability.EXTEND}),
    config=SongConfig.from_settings,
    check=availability.check,
    factory=build,
    first_estimate_s=60.0,
)
