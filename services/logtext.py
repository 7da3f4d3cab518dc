"""User text in log lines: quoted and capped.

Why: a prompt or an option value can be 6,000 characters, and a log line is no place for it (nor
for the newlines a user could use to forge log lines). `clip` keeps enough to recognise the value.
"""

from __future__ import annotations

DEFAULT_LIMIT = 200


def clip(value: object, limit: int = DEFAULT_LIMIT) -> str:
    """`value` as a quoted Python literal of at most `limit` of its characters, plus its length if cut:
    `'first 200 chars…' (6,000 chars)`."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit] + '…'!r} ({len(text):,} chars)"


def clip_lines(text: str, limit: int = 300) -> str:
    """Each line of a multi-line text (a traceback) cut to `limit` characters: the frames stay readable,
    an exception message that quotes a user's 6,000 characters does not."""
    return "\n".join(
        line if len(line) <= limit else f"{line[:limit]}… ({len(line):,} chars)" for line in text.split("\n")
    )
