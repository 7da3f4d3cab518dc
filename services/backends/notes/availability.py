"""Can notes run here? An LLM to ask, and the renderer styles uses; nothing is contacted to find out.

One check for both askers: the registry (`/music backends`, admission) and NotesBackend.available().
"""

from __future__ import annotations

from pathlib import Path

from services.backends.base import Availability
from services.backends.notes.config import NotesConfig
from services.llm.client import NOT_CONFIGURED, LLMConfig
from services.render.availability import renderer_problem


def status(llm: LLMConfig, soundfont: Path | None) -> Availability:
    if not llm.configured:
        return Availability(False, NOT_CONFIGURED)
    problem = renderer_problem(soundfont)
    if problem:
        return Availability(False, problem)
    return Availability(True, f"ready ({llm.model} at {llm.server})")


def check(config: NotesConfig) -> Availability:
    return status(config.llm, config.soundfont)
