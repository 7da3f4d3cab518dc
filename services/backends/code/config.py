"""What the code backend reads from Settings: its typed slice, and its instance key."""

from __future__ import annotations

from dataclasses import dataclass

from services.backends.code.sandbox.layers import Limits
from services.llm.client import LLMConfig
from services.settings import Settings


@dataclass(frozen=True)
class CodeConfig:
    llm: LLMConfig  # the shared LLM settings (OPENAI_*, LLM_*)
    limits: Limits  # CODE_CPU_S, CODE_WALL_S, CODE_MEMORY_MB: what one sandboxed module may use
    allow_weak_sandbox: bool  # CODE_ALLOW_WEAK_SANDBOX: an admin's "process limits are enough"
    repair_rounds: int  # LLM_REPAIR_ROUNDS: feedback rounds after the first answer
    token_budget: int  # LLM_TOKEN_BUDGET: tokens one job may spend in all

    @classmethod
    def from_settings(cls, settings: Settings) -> CodeConfig:
        return cls(
            llm=LLMConfig.from_settings(settings),
            limits=Limits(
                cpu_s=settings.code_cpu_s,
                wall_s=settings.code_wall_s,
                memory_bytes=settings.code_memory_mb << 20,
            ),
            allow_weak_sandbox=settings.code_allow_weak_sandbox,
            repair_rounds=settings.llm_repair_rounds,
            token_budget=settings.llm_token_budget,
        )
