"""The shared language-model client (notes, code and image backends)."""

from services.llm.client import (
    HOW_TO_CONFIGURE,
    LLMClient,
    LLMConfig,
    LLMError,
    LLMNotConfigured,
    LLMReply,
    ReplyNotJSON,
    TokenBudget,
    TokenBudgetExceeded,
    extract_json,
)

__all__ = [
    "HOW_TO_CONFIGURE",
    "LLMClient",
    "LLMConfig",
    "LLMError",
    "LLMNotConfigured",
    "LLMReply",
    "ReplyNotJSON",
    "TokenBudget",
    "TokenBudgetExceeded",
    "extract_json",
]
