"""Can a diffusers model folder or hub id be loaded offline? Answered from the file system only.

Shared by every model backend's availability check (riffusion, song, …), so `/music backends` and
autocomplete stay instant on the event loop and every backend words its "not here" the same way.
Nothing is ever downloaded: a hub id counts only when it is already in the local hub cache.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
MODEL_STACK = ("torch", "diffusers", "transformers")


def missing_packages(names: tuple[str, ...] = MODEL_STACK) -> list[str]:
    """The packages among `names` that are not installed (checked without importing them)."""
    return [name for name in names if importlib.util.find_spec(name) is None]


def model_problem(
    model: str,
    *,
    setting: str,
    example: str,
    revision: str | None = None,
    cache_dir: Path | None = None,
    marker: str = "model_index.json",
) -> str | None:
    """Why `model` (the value of the setting named `setting`) cannot be loaded offline, or None.
    `marker` is the file a loadable folder has: model_index.json (diffusers), config.json (transformers)."""
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            return f"{setting} {model} is a file; point it at the model's folder"
        if not (path / marker).is_file():
            kind = "a diffusers" if marker == "model_index.json" else "a"
            return (
                f"the folder {model} has no {marker}; point {setting} at {kind} model "
                "folder (one saved with save_pretrained or downloaded with huggingface-cli)"
            )
        return None
    if not HUB_ID.match(model) or model.startswith((".", "~")):
        return (
            f"the model folder {model} does not exist; set {setting} to a local folder or a hub id "
            f"such as {example}"
        )
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(model, marker, cache_dir=cache_dir, revision=revision)
    if isinstance(found, str):
        return None
    at = f" at revision {revision}" if revision else ""
    return (
        f"the model {model}{at} is not downloaded: run `huggingface-cli download {model}` "
        f"or set {setting} to a local folder"
    )
