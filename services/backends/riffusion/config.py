"""What the riffusion backend reads from Settings: its typed slice, and its instance key.

The defaults live in Settings alone; RiffusionOptions (backend.py) adds what only tests and benchmarks
set (image size, hub cache folder).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.settings import Settings


@dataclass(frozen=True)
class RiffusionConfig:
    model: str  # RIFFUSION_MODEL: hub id or local folder
    revision: str | None  # RIFFUSION_REVISION
    device: str  # DEVICE
    scheduler: str  # RIFFUSION_SCHEDULER
    steps: int  # RIFFUSION_STEPS
    guidance: float  # RIFFUSION_GUIDANCE
    denoising: float  # RIFFUSION_DENOISING: strength from a beat or texture seed
    audio_denoising: float  # RIFFUSION_AUDIO_DENOISING: strength from the user's audio
    batch_size: int  # RIFFUSION_BATCH_SIZE
    batch_wait_ms: float  # RIFFUSION_BATCH_WAIT_MS
    max_seconds: float  # RIFFUSION_MAX_SECONDS
    soundfont: Path | None  # SOUNDFONT_PATH: the seed beats are rendered with it

    @classmethod
    def from_settings(cls, settings: Settings) -> RiffusionConfig:
        return cls(
            model=settings.riffusion_model,
            revision=settings.riffusion_revision,
            device=settings.device,
            scheduler=settings.riffusion_scheduler,
            steps=settings.riffusion_steps,
            guidance=settings.riffusion_guidance,
            denoising=settings.riffusion_denoising,
            audio_denoising=settings.riffusion_audio_denoising,
            batch_size=settings.riffusion_batch_size,
            batch_wait_ms=settings.riffusion_batch_wait_ms,
            max_seconds=settings.riffusion_max_seconds,
            soundfont=settings.soundfont_path,
        )
