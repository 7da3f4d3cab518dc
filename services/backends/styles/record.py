"""The styles backend's record: the default, on the CPU, no weights."""

from __future__ import annotations

from services.backends.abilities import Ability
from services.backends.base import Backend
from services.backends.record import BackendRecord, Lane
from services.backends.styles import availability
from services.backends.styles.config import StylesConfig


def build(config: StylesConfig) -> Backend:
    from services.backends.styles.backend import StylesBackend  # the composer loads on first use

    return StylesBackend.from_config(config)


RECORD = BackendRecord(
    name="styles",
    description="Reads mood, genre, tempo and key from your words and composes a piece (CPU, no setup).",
    lane=Lane.CPU,
    abilities=frozenset({Ability.TEXT}),
    config=StylesConfig.from_settings,
    check=availability.check,
    factory=build,
    first_estimate_s=6.0,
)
