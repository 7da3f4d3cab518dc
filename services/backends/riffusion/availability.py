"""Can riffusion run here? Answered from the file system only: no torch, no diffusers, no model load.

Kept apart from the backend so `/music backends` and autocomplete stay instant on the event loop. One check
for both askers: the registry (`/music backends`, admission) and RiffusionBackend.available().
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from services.backends.base import Availability
from services.backends.riffusion.config import RiffusionConfig

SETUP_HINT = "scripts/install.sh --gpu"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def missing_packages() -> list[str]:
    """The model-stack packages that are not installed (checked without importing them)."""
    return [name for name in ("torch", "diffusers", "transformers") if importlib.util.find_spec(name) is None]


def model_problem(model: str, revision: str | None = None, cache_dir: Path | None = None) -> str | None:
    """Why `model` cannot be loaded offline, or None when it can. Reads only the file system."""
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            return f"RIFFUSION_MODEL {model} is a file; point it at the model's folder"
        if not (path / "model_index.json").is_file():
            return (
                f"the folder {model} has no model_index.json; point RIFFUSION_MODEL at a diffusers model "
                "folder (one saved with save_pretrained or downloaded with huggingface-cli)"
            )
        return None
    if not HUB_ID.match(model) or model.startswith((".", "~")):
        return (
            f"the model folder {model} does not exist; set RIFFUSION_MODEL to a local folder or a hub id "
            "such as riffusion/riffusion-model-v1"
        )
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(model, "model_index.json", cache_dir=cache_dir, revision=revision)
    if isinstance(found, str):
        return None
    at = f" at revision {revision}" if revision else ""
    return (
        f"the model {model}{at} is not downloaded: run `huggingface-cli download {model}` "
        "or set RIFFUSION_MODEL to a local folder"
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
