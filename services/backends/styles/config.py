"""What the styles backend reads from Settings: its typed slice, and its instance key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.settings import Settings


@dataclass(frozen=True)
class StylesConfig:
    soundfont: Path | None  # SOUNDFONT_PATH; None: pretty_midi's TimGM6mb, then Debian's
    embeddings: bool  # EMBEDDINGS_ENABLED: match prompts to tags by meaning too
    cache_dir: Path  # where the embedding model's vectors are cached

    @classmethod
    def from_settings(cls, settings: Settings) -> StylesConfig:
        return cls(settings.soundfont_path, settings.embeddings_enabled, settings.cache_dir)
