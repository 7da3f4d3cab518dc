"""Can riffusion run here? Answered from the file system only: no torch, no diffusers, no model load.

Kept apart from the backend so `/music backends` and autocomplete stay instant on the event loop. One check
for both askers: the registry (`/music backends`, admission) and RiffusionBackend.available().
"""

from __future__ import annotations

from pathlib import Path

from services.backends import model_files
from services.backends.base import Availability
from services.backends.riffusion.config import RiffusionConfig

SETUP_HINT = "scripts/install.sh --gpu"
EXAMPLE_HUB_ID = "riffusion/riffusion-model-v1"


def missing_packages() -> list[str]:
    """The model-stack packages that are not installed (checked without importing them)."""
    return model_files.missing_packages()


def model_problem(model: str, revision: str | None = None, cache_dir: Path | None = None) -> str | None:
    """Why `model` cannot be loaded offline, or None when it can. Reads only the file system."""
    return model_files.model_problem(
        model, setting="RIFFUSION_MODEL", example=EXAMPLE_HUB_ID, revision=revision, cache_dir=cache_dir
    )


def unavailable_reason(model: str, revision: str | None = None, cache_dir: Path | None = None) -> str | None:
    """Why riffusion cannot run here — packages first, then the model files — or None when it can."""
    missing = missing_packages()
    if missing:
        return f"riffusion needs {', '.join(missing)}, which is not installed: run `{SETUP_HINT}`"
    try:
        return model_problem(model, revision, cache_dir)
    except Exception as exc:  # a broken hub cache must not break /music backends
        return f"could not look for the model {model}: {exc}"


def status(model: str, revision: str | None = None, cache_dir: Path | None = None) -> Availability:
    problem = unavailable_reason(model, revision, cache_dir)
    if problem is not None:
        return Availability(False, problem)
    return Availability(True, f"ready ({model})")


def check(config: RiffusionConfig) -> Availability:
    return status(config.model, config.revision)
