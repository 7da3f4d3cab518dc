"""MusicGen's record, a placeholder until its issue lands: listed everywhere, says it is not built yet."""

from __future__ import annotations

from services.backends.abilities import Ability
from services.backends.record import Lane, placeholder

RECORD = placeholder(
    "musicgen", "Meta's MusicGen text-to-music model.", Lane.MODEL, frozenset({Ability.TEXT})
)
