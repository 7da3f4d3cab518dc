"""Can the SoundFont renderer run here? Answered without rendering (styles and notes both ask).

Kept apart from the renderer so `/music backends` only looks for files and packages.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from services.render.soundfont import INSTALL_HINT, find_soundfont


def renderer_problem(soundfont: Path | None) -> str | None:
    """Why scores cannot be rendered here (the synthesiser or a SoundFont is missing), or None."""
    if importlib.util.find_spec("tinysoundfont") is None:
        return f"the synthesiser is not installed: run `{INSTALL_HINT}`"
    try:
        find_soundfont(soundfont)
    except (FileNotFoundError, ValueError) as exc:
        return f"no General MIDI SoundFont: {exc}"
    return None
