"""The riffusion backend's record: Stable Diffusion on spectrograms, on the model lane (one shared, batched
pipeline in worker threads)."""

from __future__ import annotations

from services.backends.abilities import Ability
from services.backends.base import Backend
from services.backends.record import BackendRecord, Lane
from services.backends.riffusion import availability
from services.backends.riffusion.config import RiffusionConfig


def build(config: RiffusionConfig) -> Backend:
    from services.backends.riffusion.backend import RiffusionBackend  # diffusers loads with the model

    return RiffusionBackend.from_config(config)


RECORD = BackendRecord(
    name="riffusion",
    description="Stable Diffusion on spectrograms, from a beat at your tempo or your own audio.",
    lane=Lane.MODEL,
    abilities=frozenset(
        {Ability.TEXT, Ability.AUDIO_IN, Ability.IMAGE_IN, Ability.EXTEND, Ability.TRANSITION}
    ),
    config=RiffusionConfig.from_settings,
    check=availability.check,
    factory=build,
)
