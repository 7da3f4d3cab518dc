"""What the notes backend reads from Settings: its typed slice, and its instance key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.llm.client import LLMConfig
from services.settings import Settings


@dataclass(frozen=True)
class NotesConfig:
    llm: LLMConfig  # the shared LLM settings (OPENAI_*, LLM_*)
    soundfont: Path | None  # SOUNDFONT_PATH: the notes are rendered like styles'
    repair_rounds: int  # LLM_REPAIR_ROUNDS: feedback rounds before the deterministic repair
    token_budget: int  # LLM_TOKEN_BUDGET: tokens one job may spend in all

    @classmethod
    def from_settings(cls, settings: Settings) -> NotesConfig:
        return cls(
            llm=LLMConfig.from_settings(settings),
            soundfont=settings.soundfont_path,
            repair_rounds=settings.llm_repair_rounds,
            token_budget=settings.llm_token_budget,
        )
