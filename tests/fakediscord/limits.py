"""Discord's size limits on what a bot sends, enforced like Discord does: 400 with code 50035.

Discord refuses a whole message when any part is over its limit, and the user then sees nothing (or
"The application did not respond"). Enforcing the limits here makes every test that posts something
a test that the bot fits what it posts.
"""

from __future__ import annotations

from typing import Any

from .state import JSON

CONTENT = 2000
EMBEDS = 10
TITLE = 256
DESCRIPTION = 4096
FIELDS = 25
FIELD_NAME = 256
FIELD_VALUE = 1024
FOOTER = 2048
AUTHOR = 256
EMBED_TOTAL = 6000
CHOICES = 25
CHOICE_NAME = 100
CHOICE_VALUE = 100


class LimitExceeded(Exception):
    """What Discord would name in its 'Invalid Form Body' answer."""


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _check_len(where: str, value: Any, limit: int, *, required: bool = False) -> int:
    text = _text(value)
    if required and not text.strip():
        raise LimitExceeded(f"{where}: this field is required")
    if len(text) > limit:
        raise LimitExceeded(f"{where}: must be {limit} or fewer in length (got {len(text)})")
    return len(text)


def check_embed(index: int, embed: JSON) -> None:
    where = f"embeds.{index}"
    total = _check_len(f"{where}.title", embed.get("title"), TITLE)
    total += _check_len(f"{where}.description", embed.get("description"), DESCRIPTION)
    fields = embed.get("fields") or []
    if len(fields) > FIELDS:
        raise LimitExceeded(f"{where}.fields: must be {FIELDS} or fewer in length")
    for i, f in enumerate(fields):
        total += _check_len(f"{where}.fields.{i}.name", f.get("name"), FIELD_NAME, required=True)
        total += _check_len(f"{where}.fields.{i}.value", f.get("value"), FIELD_VALUE, required=True)
    total += _check_len(f"{where}.footer.text", (embed.get("footer") or {}).get("text"), FOOTER)
    total += _check_len(f"{where}.author.name", (embed.get("author") or {}).get("name"), AUTHOR)
    if total > EMBED_TOTAL:
        raise LimitExceeded(f"{where}: embed size exceeds maximum size of {EMBED_TOTAL}")


def check_message(payload: JSON) -> None:
    """Raise LimitExceeded when Discord would refuse this create/edit message payload."""
    _check_len("content", payload.get("content"), CONTENT)
    embeds = payload.get("embeds") or []
    if len(embeds) > EMBEDS:
        raise LimitExceeded(f"embeds: must be {EMBEDS} or fewer in length")
    for i, embed in enumerate(embeds):
        check_embed(i, embed)


def check_choices(data: JSON) -> None:
    """Raise LimitExceeded when Discord would refuse these autocomplete choices."""
    choices = data.get("choices") or []
    if len(choices) > CHOICES:
        raise LimitExceeded(f"choices: must be {CHOICES} or fewer in length")
    for i, choice in enumerate(choices):
        _check_len(f"choices.{i}.name", choice.get("name"), CHOICE_NAME, required=True)
        _check_len(f"choices.{i}.value", choice.get("value"), CHOICE_VALUE, required=True)
