"""Text that did not come from us — prompts, option values, model replies, code errors, file names.

Such text is shown back to people (Discord messages, the command line, stored failure reasons), so
it is first made inert in a way every surface needs: control and bidirectional-override characters
removed (an RTL override can make an echo read differently from what was typed), whitespace collapsed
to single spaces, and the length capped. Discord markdown, mentions and masked links are the cogs'
business (`cogs/formatting.py`), on top of this.
"""

from __future__ import annotations

import re
import unicodedata

DEFAULT_LIMIT = 200

# Bidirectional embeddings, overrides and isolates, and the marks that steer them.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SPACES = re.compile(r"\s+")


def _visible(ch: str) -> bool:
    """False for characters that change how text around them reads, or that a terminal acts on."""
    if ch in _BIDI:
        return False
    category = unicodedata.category(ch)
    if category == "Cc":  # C0/C1 controls: tabs and newlines become spaces before this runs
        return False
    # Zero-width joiners (emoji sequences) and variation selectors stay; other format characters
    # (soft hyphen, invisible operators, interlinear annotations) go.
    return not (category == "Cf" and ch not in "\u200b\u200c\u200d\ufe0e\ufe0f" and not _tag(ch))


def _tag(ch: str) -> bool:
    """Unicode tag characters build subdivision flags (🏴 England) and are harmless."""
    return 0xE0020 <= ord(ch) <= 0xE007F


def clean(text: object, limit: int = DEFAULT_LIMIT) -> str:
    """`text` on one line, without control or direction-override characters, cut to `limit` characters."""
    value = _SPACES.sub(" ", str(text)).strip()
    value = "".join(ch for ch in value if _visible(ch))
    if len(value) > limit:
        value = value[: max(1, limit - 1)].rstrip() + "…"
    return value

