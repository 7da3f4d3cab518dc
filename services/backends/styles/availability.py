"""Can styles run here? The synthesiser and a SoundFont; nothing is loaded to find out.

One check for both askers: the registry (`/music backends`, admission) and StylesBackend.available().
"""

from __future__ import annotations

from pathlib import Path

from services.backends.base import Availability
from services.backends.styles.config import StylesConfig
from services.render.availability import renderer_problem


def status(soundfont: Path | None) -> Availability:
    problem = renderer_problem(soundfont)
    return Availability(False, problem) if problem else Availability(True, "ready")


def check(config: StylesConfig) -> Availability:
    return status(config.soundfont)
