"""Checks on what the bot posted, read the way Discord's markdown reads it.

Why a parser of our own: the tests must say "no live masked link" and "no ping", which a substring
check cannot: `\\[x](y)` is inert, `\\\\[x](y)` is a live link after a literal backslash.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_ESCAPED = re.compile(r"\\.", re.DOTALL)  # a backslash and the character it escapes
_MASKED_LINK = re.compile(r"\[[^\]]*\]\(\s*<?\s*https?://", re.IGNORECASE)
_LIVE_MENTION = re.compile(r"@(everyone|here)\b|<@[!&]?\d+>|<#\d+>")
_DIRECTION_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def unescaped(text: str) -> str:
    """`text` with every escaped character removed: what is left is what Discord parses as markdown."""
    return _ESCAPED.sub("", text)


def live_masked_links(text: str) -> list[str]:
    return _MASKED_LINK.findall(unescaped(text))


def live_mentions(text: str) -> list[str]:
    return [m.group(0) for m in _LIVE_MENTION.finditer(text)]


def direction_controls(text: str) -> list[str]:
    return [hex(ord(ch)) for ch in text if ch in _DIRECTION_CONTROLS]


def embed_texts(embeds: Iterable[dict[str, Any]]) -> list[str]:
    """Every piece of text an embed shows."""
    out: list[str] = []
    for embed in embeds:
        out += [str(embed.get("title") or ""), str(embed.get("description") or "")]
        for f in embed.get("fields") or []:
            out += [str(f.get("name") or ""), str(f.get("value") or "")]
        out.append(str((embed.get("footer") or {}).get("text") or ""))
    return out


def assert_inert(text: str) -> None:
    """Nothing in `text` links, pings or reverses direction."""
    assert not live_masked_links(text), text
    assert not live_mentions(text), text
    assert not direction_controls(text), text
