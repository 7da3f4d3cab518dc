"""Can the song backend run here? Answered from the file system only: no torch, no model load."""

from __future__ import annotations

from services.backends import model_files
from services.backends.base import Availability
from services.backends.song.config import SongConfig

SETUP_HINT = "scripts/install.sh --gpu"
EXAMPLE_HUB_ID = "ACE-Step/acestep-v15-xl-turbo-diffusers"


def check(config: SongConfig) -> Availability:
    missing = model_files.missing_packages()
    if missing:
        return Availability(
            False, f"song needs {', '.join(missing)}, which is not installed: run `{SETUP_HINT}`"
        )
    try:
        problem = model_files.model_problem(
            config.model, setting="ACESTEP_MODEL", example=EXAMPLE_HUB_ID, revision=config.revision
        )
    except Exception as exc:  # a broken hub cache must not break /music backends
        problem = f"could not look for the model {config.model}: {exc}"
    if problem is not None:
        return Availability(False, problem)
    return Availability(True, f"ready ({config.model})")
