"""What the song backend reads from Settings: its typed slice, and its instance key."""

from __future__ import annotations

from dataclasses import dataclass

from services.settings import Settings


@dataclass(frozen=True)
class SongConfig:
    model: str  # ACESTEP_MODEL: hub id or local folder (never downloaded at run time)
    revision: str | None  # ACESTEP_REVISION
    device: str  # DEVICE
    dtype: str  # ACESTEP_DTYPE: auto, float32, float16, bfloat16
    offload: str  # ACESTEP_OFFLOAD: none, model
    steps: int  # ACESTEP_STEPS
    guidance: float  # ACESTEP_GUIDANCE
    shift: float  # ACESTEP_SHIFT
    max_seconds: float  # ACESTEP_MAX_SECONDS
    batch_size: int  # ACESTEP_BATCH_SIZE
    batch_wait_ms: float  # ACESTEP_BATCH_WAIT_MS
    cover_strength: float  # ACESTEP_COVER_STRENGTH

    @classmethod
    def from_settings(cls, settings: Settings) -> SongConfig:
        return cls(
            model=settings.acestep_model,
            revision=settings.acestep_revision,
            device=settings.device,
            dtype=settings.acestep_dtype,
            offload=settings.acestep_offload,
            steps=settings.acestep_steps,
            guidance=settings.acestep_guidance,
            shift=settings.acestep_shift,
            max_seconds=settings.acestep_max_seconds,
            batch_size=settings.acestep_batch_size,
            batch_wait_ms=settings.acestep_batch_wait_ms,
            cover_strength=settings.acestep_cover_strength,
        )
