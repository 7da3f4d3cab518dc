"""Redaction and capping of log text: the redactor alone, then the app's logging setup end to end.

Secrets must not reach the finished log line by any route: the message, its arguments (of any type),
a traceback, a stack, a handler someone adds elsewhere, or a chatty library at DEBUG.
"""

from __future__ import annotations

import base64
import logging
import secrets
import time
from dataclasses import dataclass

import pytest

from services.jobs.models import DiscordDelivery
from services.logtext import clip, clip_lines
from services.redaction import Redactor
from tests.logcapture import app_logging

BOT_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GAbCdE.super-secret-token-value-xyz"
API_KEY = "sk-proj-" + "A1b2C3d4" * 6


def interaction_token() -> str:
    raw = f"interaction:{secrets.randbelow(10**18)}:{secrets.token_urlsafe(96)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# --- the redactor ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("PATCH https://discord.com/api/v10/webhooks/1234/{itok}/messages/@original", "{itok}"),
        ("POST /api/v10/interactions/99/{itok}/callback", "{itok}"),
        ("params ('1', '{{\"interaction_token\": \"{itok}\"}}', 5)", "{itok}"),
        ("bare {itok} in a sentence", "{itok}"),
        # URL paths give the token away whatever its shape.
        ("GET /webhooks/1234/odd-shaped.token_value/messages/1", "odd-shaped.token_value"),
        ("connecting with {bot}", "{bot}"),
        ("headers {{'Authorization': 'Bot {bot}'}}", "{bot}"),
        ("Authorization: Bearer abcdefghij0123456789", "abcdefghij0123456789"),
        ("openai key {key} rejected", "{key}"),
        ('{{"token": "some-other-credential", "x": 1}}', "some-other-credential"),
        ("api_key=0123456789abcdef&x=1", "0123456789abcdef"),
        ("OPENAI_BASE_URL=https://me:hunter2hunter2@llm.local/v1", "hunter2hunter2"),
    ],
)
def test_the_redactor_removes_tokens_keys_and_credentials(text: str, secret: str) -> None:
    values = {"itok": interaction_token(), "bot": BOT_TOKEN, "key": API_KEY}
    text, secret = text.format(**values), secret.format(**values)
    assert secret in text
    clean = Redactor()(text)
    assert secret not in clean
    assert Redactor()(clean) == clean  # idempotent: record and line are both redacted


def test_configured_secrets_go_whatever_their_shape_and_ordinary_words_stay() -> None:
    redact = Redactor(["fake-bot-token.1234", "short", None, ""])
    assert redact("token fake-bot-token.1234 here") == "token [secret] here"
    ordinary = "the interaction token expired; max_tokens=16000, completion_tokens: 12, short words"
    assert redact(ordinary) == ordinary


# --- user values -----------------------------------------------------------------------------------


def test_clip_quotes_caps_and_says_how_long() -> None:
    assert clip("rainy piano") == "'rainy piano'"
    long = "x" * 6000
    clipped = clip(long)
    assert clipped == f"'{'x' * 200}…' (6,000 chars)"
    assert clip("two\nlines") == "'two\\nlines'"  # a user cannot forge log lines
    assert clip(12345, limit=3) == "'123…' (5 chars)"
    assert clip_lines("a\n" + "y" * 1000, limit=10) == "a\n" + "y" * 10 + "… (1,000 chars)"


def test_a_delivery_never_shows_its_token_in_repr() -> None:
    token = interaction_token()
    delivery = DiscordDelivery(application_id=1, interaction_token=token, token_expires_at=time.time())
    assert token not in repr(delivery) and token not in str(delivery)
    assert delivery.interaction_token == token


# --- the logging setup -----------------------------------------------------------------------------


@dataclass
class Leaky:
    """An argument whose str() carries a secret (an aiohttp request, a webhook …)."""

    token: str

    def __str__(self) -> str:
        return f"<Webhook url=/webhooks/1/{self.token}>"


def test_messages_arguments_tracebacks_and_stacks_are_redacted() -> None:
    itok = interaction_token()
    with app_logging(level="DEBUG", secrets=[BOT_TOKEN, API_KEY]) as out:
        log = logging.getLogger("cogs.delivery")
        log.debug("url %s", f"/webhooks/1/{itok}/messages/@original")
        log.info("object %s and dict %r and tuple %s", Leaky(itok), {"token": itok}, (1, itok))
        log.info("keys %(key)s %(bot)s", {"key": API_KEY, "bot": BOT_TOKEN})
        try:
            raise RuntimeError(f"PATCH /webhooks/1/{itok}/messages/@original failed; key {API_KEY}")
        except RuntimeError:
            log.exception("delivering failed", stack_info=True)
        try:
            raise ValueError(BOT_TOKEN)
        except ValueError as exc:
            log.error("failed", exc_info=exc)
    text = out.getvalue()
    for secret in (itok, itok[20:60], BOT_TOKEN, API_KEY):
        assert secret not in text
    assert "Traceback (most recent call last)" in text and "Stack (most recent call last)" in text
    assert "RuntimeError: PATCH /webhooks/1/[interaction-token]/messages/@original failed; key [secret]" in (
        text
    )
    assert text.count("\n20") == 4  # five records, none lost


def test_a_handler_added_elsewhere_cannot_bypass_redaction() -> None:
    itok = interaction_token()
    with app_logging(level="INFO", secrets=[BOT_TOKEN]) as out:
        import io

        elsewhere = io.StringIO()
        handler = logging.StreamHandler(elsewhere)
        handler.setFormatter(logging.Formatter("%(message)s"))  # a plain formatter, no filter
        library = logging.getLogger("some.library")
        library.addHandler(handler)
        try:
            try:
                raise OSError(f"token {itok}")
            except OSError:
                library.exception("request to /interactions/5/%s/callback with %s failed", itok, BOT_TOKEN)
        finally:
            library.removeHandler(handler)
    for text in (out.getvalue(), elsewhere.getvalue()):
        assert "failed" in text and "OSError" in text
        assert itok not in text and BOT_TOKEN not in text


def test_chatty_libraries_stay_quiet_at_debug_unless_asked_and_are_redacted_then() -> None:
    itok = interaction_token()
    with app_logging(level="DEBUG") as out:
        logging.getLogger("aiosqlite").debug("executing %s", ("INSERT", itok))
        logging.getLogger("discord.http").debug("PATCH /webhooks/1/%s/messages/@original", itok)
        logging.getLogger("services.x").debug("our own debug line")
    assert "our own debug line" in out.getvalue()
    assert "executing" not in out.getvalue() and "PATCH" not in out.getvalue()

    with app_logging(level="DEBUG", debug_libraries=["aiosqlite", "discord.http"]) as out:
        logging.getLogger("aiosqlite").debug("executing %s", ("INSERT", itok))
        logging.getLogger("discord.http").debug("PATCH /webhooks/1/%s/messages/@original", itok)
        logging.getLogger("discord.gateway").debug("still quiet")
    text = out.getvalue()
    assert "executing ('INSERT', '[interaction-token]')" in text
    assert "/webhooks/1/[interaction-token]/" in text
    assert "still quiet" not in text and itok not in text


def test_long_lines_are_cut() -> None:
    with app_logging(level="INFO", max_line_chars=300) as out:
        logging.getLogger("x").info("value %s", "z" * 6000)
    line = out.getvalue().rstrip("\n")
    assert "z" * 301 not in line and line.endswith("more chars]")
    assert len(line) < 400
