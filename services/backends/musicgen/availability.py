"""Can the musicgen backend run here? Answered from the file system only: no torch, no model load."""

from __future__ import annotations

from services.backends import model_files
from services.backends.base import Availability
from services.backends.musicgen.config import MusicgenConfig

SETUP_HINT = "scripts/install.sh --gpu"
EXAMPLE_HUB_ID = "facebook/musicgen-small"
EXAMPLE_MELODY_HUB_ID = "facebook/musicgen-melody"
LICENCE_NOTE = "weights CC-BY-NC 4.0: not for commercial use"


def model_problem(config: MusicgenConfig) -> str | None:
    return _problem(config.model, "MUSICGEN_MODEL", EXAMPLE_HUB_ID, config.revision)


def melody_problem(config: MusicgenConfig) -> str | None:
    """Why melody conditioning cannot run (None: it can); text music may still work without it."""
    return _problem(config.melody_model, "MUSICGEN_MELODY_MODEL", EXAMPLE_MELODY_HUB_ID, config.revision)


def _problem(model: str, setting: str, example: str, revision: str | None) -> str | None:
    missing = model_files.missing_packages(("torch", "transformers"))
    if missing:
        return f"musicgen needs {', '.join(missing)}, which is not installed: run `{SETUP_HINT}`"
    try:
        return model_files.model_problem(
            model, setting=setting, example=example, revision=revision, marker="config.json"
        )
    except Exception as exc:  # a broken hub cache must not break /music backends
        return f"could not look for the model {model}: {exc}"


def check(config: MusicgenConfig) -> Availability:
    problem = model_problem(config)
    if problem is not None:
        return Availability(False, problem)
    melody = "melody ready" if melody_problem(config) is None else "melody model not here"
    return Availability(True, f"ready ({config.model}; {melody}; {LICENCE_NOTE})")
