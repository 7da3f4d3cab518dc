"""The notes backend's record: a language model writes the score; the MIDI is the point."""

from __future__ import annotations

from services.backends.abilities import Ability
from services.backends.base import Backend
from services.backends.notes import availability
from services.backends.notes.config import NotesConfig
from services.backends.record import BackendRecord, Lane


def build(config: NotesConfig) -> Backend:
    from services.backends.notes.backend import NotesBackend  # the exchange and repair load on first use

    return NotesBackend.from_config(config)


RECORD = BackendRecord(
    name="notes",
    description="A language model writes every note; constraints checked and repaired.",
    lane=Lane.CPU,
    abilities=frozenset({Ability.TEXT, Ability.MIDI_OUT}),
    config=NotesConfig.from_settings,
    check=availability.check,
    factory=build,
)
