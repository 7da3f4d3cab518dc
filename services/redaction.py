"""Secrets out of text bound for a log: bot and API tokens, interaction tokens, credentials.

Why patterns as well as the configured values: interaction tokens are minted by Discord for every
command and button click, and libraries print them inside webhook URLs, JSON payloads and SQL
parameters; nobody configured them, so only their shape (or the place they sit in) gives them away.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import partial

# Each pattern is replaced on its own; a group named `keep` survives (the part before the secret).
# Every pattern leaves its own output alone, so redacting twice (record, then line) changes nothing.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Interaction tokens: base64url of "interaction:<id>:<random>", so they start with this prefix.
    (re.compile(r"aW50ZXJhY3Rpb246[A-Za-z0-9_\-]*=*"), "[interaction-token]"),
    # The token part of webhook and interaction callback paths, whatever its shape.
    (re.compile(r"(?P<keep>/(?:webhooks|interactions)/\d+/)(?!\[)[^/?#\s\"'<>]+"), "[token]"),
    # Discord bot tokens: three dot-separated base64url parts.
    (re.compile(r"[A-Za-z0-9_\-]{23,28}\.[A-Za-z0-9_\-]{6,7}\.[A-Za-z0-9_\-]{27,}"), "[token]"),
    # OpenAI-style API keys (sk-…, sk-proj-…).
    (re.compile(r"\bsk-[A-Za-z0-9_\-*]{16,}"), "[api-key]"),  # "*": OpenAI echoes keys half-masked
    # Authorization header values (Bot …, Bearer …, Basic …), as headers, dict items or JSON.
    (
        re.compile(r"(?i)(?P<keep>\bauthorization[\"']?\s*[:=]\s*[\"']?)[^\s\"'\[,}][^\"'\r\n,}]*"),
        "[secret]",
    ),
    (re.compile(r"(?i)(?P<keep>\bbearer\s+)(?!\[)[A-Za-z0-9._~+/\-]{8,}=*"), "[secret]"),
    # key=value / "key": "value" for keys that name a credential (token, interaction_token, api_key …).
    (
        re.compile(
            r"(?i)(?P<keep>\b(?:\w*_)?(?:token|api_?key|secret|password)[\"']?\s*[:=]\s*[\"']?)"
            r"(?!\[)[^\s\"',}&)]{6,}"
        ),
        "[secret]",
    ),
    # user:password@ in URLs (an OPENAI_BASE_URL with credentials).
    (re.compile(r"(?P<keep>[a-z][a-z0-9+.\-]*://)[^/\s:@\"']*:[^/\s@\"']+@"), "[credentials]@"),
)


class Redactor:
    """Replaces configured secrets and anything shaped like a token in a piece of text."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        # Longest first, so a secret containing another is replaced whole. Short values would blank
        # ordinary words; the patterns above still catch short tokens of a known shape.
        unique = {s for s in secrets if s and len(s) >= 8}
        self.secrets = sorted(unique, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "[secret]")
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(partial(_keep_then, replacement), text)
        return text


def _keep_then(replacement: str, match: re.Match[str]) -> str:
    return (match.groupdict().get("keep") or "") + replacement
