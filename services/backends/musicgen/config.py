"""What the musicgen backend reads from Settings: its typed slice, and its instance key."""

from __future__ import annotations

from dataclasses import dataclass

from services.settings import Settings


@dataclass(frozen=True)
class MusicgenConfig:
    model: str  # MUSICGEN_MODEL: text and continuation (hub id or local folder, never downloaded)
    melody_model: str  # MUSICGEN_MELODY_MODEL: melody conditioning (a musicgen-melody checkpoint)
    revision: str | None  # MUSICGEN_REVISION
    device: str  # DEVICE
    dtype: str  # MUSICGEN_DTYPE: auto, float32, float16, bfloat16
    guidance: float  # MUSICGEN_GUIDANCE
    temperature: float  # MUSICGEN_TEMPERATURE
    top_k: int  # MUSICGEN_TOP_K
    window_s: float  # MUSICGEN_WINDOW_S
    overlap_s: float  # MUSICGEN_OVERLAP_S (at most half a window)
    max_seconds: float  # MUSICGEN_MAX_SECONDS
    batch_size: int  # MUSICGEN_BATCH_SIZE
    batch_wait_ms: float  # MUSICGEN_BATCH_WAIT_MS

    @classmethod
    def from_settings(cls, settings: Settings) -> MusicgenConfig:
        window = settings.musicgen_window_s
        return cls(
            model=settings.musicgen_model,
            melody_model=settings.musicgen_melody_model,
            revision=settings.musicgen_revision,
            device=settings.device,
            dtype=settings.musicgen_dtype,
            guidance=settings.musicgen_guidance,
            temperature=settings.musicgen_temperature,
            top_k=settings.musicgen_top_k,
            window_s=window,
            overlap_s=min(settings.musicgen_overlap_s, window / 2),
            max_seconds=settings.musicgen_max_seconds,
            batch_size=settings.musicgen_batch_size,
            batch_wait_ms=settings.musicgen_batch_wait_ms,
        )
