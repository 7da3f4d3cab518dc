"""Turning text a user typed into an id, strictly.

Why not `text.isdigit()` and `int(text)`: isdigit accepts '²', '٣' and '１２', which int() then rejects,
misreads or (for thousands of digits) refuses with a ValueError; and an id beyond SQLite's signed 64-bit
range overflows the query. Here only ASCII digits count, the length is bounded before anything is
converted, and the value must fit an SQLite INTEGER.
"""

from __future__ import annotations

import re

from services.errors import UserError
from services.score.theory import Key
from services.untrusted import clean

MAX_SQLITE_INTEGER = 2**63 - 1
_MAX_DIGITS = len(str(MAX_SQLITE_INTEGER))  # 19
_ID_RE = re.compile(rf"#?([0-9]{{1,{_MAX_DIGITS}}})")  # [0-9] is ASCII only, unlike \d or isdigit
_MAX_INPUT_CHARS = 64  # more than any id with its '#' and some spaces: longer text is not an id


def parse_id(text: str) -> int | None:
    """The non-negative id in `text` ('3', '#3', ' 3 '), or None when it is not one that can exist."""
    if len(text) > _MAX_INPUT_CHARS:
        return None
    match = _ID_RE.fullmatch(text.strip())
    if match is None:
        return None
    value = int(match.group(1))
    return value if value <= MAX_SQLITE_INTEGER else None


def key_name(text: str) -> str:
    """The canonical name of a typed key ("a minor" → "A minor"), or a UserError saying how to write one."""
    try:
        return Key.parse(text).name()
    except ValueError:
        raise UserError(
            "I don't know the key “{key}” — try something like `A minor`, `F# major` or `D dorian`.",
            key=clean(text, 40),
        ) from None
