"""The real bot against the fake Discord with the app's own logging at DEBUG: what gets written.

No interaction token (the fake knows each one it issued), no bot token and no API key may appear in
the handler's output, tracebacks included; no line may carry more than a few hundred characters of
anything a user typed.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from services.logsetup import settings_secrets
from services.settings import Settings
from tests.conftest import running_bot
from tests.fakediscord import FakeDiscord, StoredMessage
from tests.logcapture import app_logging

RESULT_TIMEOUT = 90
API_KEY = "sk-test-" + "k3yV4lue" * 5
LEAK = 300  # a run of this many characters of a user's value in the log counts as a leak


def _has_mp3(m: StoredMessage) -> bool:
    return any(a.filename.endswith(".mp3") for a in m.attachments)


def _windows(value: str, size: int = LEAK - 50, step: int = 50) -> list[str]:
    """Substrings such that any run of LEAK characters of `value` contains one of them."""
    return [value[i : i + size] for i in range(0, max(1, len(value) - size + 1), step)]


def _distinct_text(length: int, seed: str) -> str:
    """Text no other log line could contain by chance."""
    words = (f"{seed}{i:04d}" for i in range(length))
    return " ".join(words)[:length]


def _assert_nothing_secret(fd: FakeDiscord, text: str, settings: Settings) -> None:
    assert fd.interactions, "the test issued no interactions"
    for token in fd.interactions:
        assert token not in text
        assert token[20:70] not in text  # no part of it either
    assert fd.bot_token not in text
    for secret in settings_secrets(settings):
        assert secret not in text


async def _leaky_listener(interaction: Any) -> None:
    """A bug in an event handler whose error quotes a webhook URL: discord.py logs it with a traceback."""
    raise RuntimeError(
        f"PATCH /api/v10/webhooks/{interaction.application_id}/{interaction.token}/messages/@original "
        f"failed (token {interaction.token})"
    )


async def test_debug_logs_hold_no_tokens_no_keys_and_no_long_user_values(
    fake_discord: FakeDiscord, settings_factory: Callable[..., Settings]
) -> None:
    fd = fake_discord
    guild = fd.add_guild("studio")
    channel = fd.add_text_channel(guild, "music")
    alice = fd.add_user("alice")
    settings = settings_factory(
        discord_guild_id=guild.id, log_level="DEBUG", openai_api_key=API_KEY, enabled_backends="styles"
    )
    prompt = _distinct_text(900, "lofi")
    backend = _distinct_text(6000, "kazoo")
    with app_logging(level=settings.log_level, secrets=[*settings_secrets(settings), fd.bot_token]) as out:
        async with running_bot(fd, settings) as bot:
            bot.add_listener(_leaky_listener, "on_interaction")
            inter = await fd.slash_command(
                alice, channel, "music create", {"prompt": prompt, "duration": 4, "seed": 3}
            )
            done = await inter.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)

            bad = await fd.slash_command(alice, channel, "music create", {"prompt": "x", "backend": backend})
            answer = await bad.wait_response(timeout=10)
            assert answer.ephemeral

            reroll = await fd.click_button(alice, done, f"pj:reroll:{inter.id}")
            await reroll.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
    text = out.getvalue()

    # The log is there and detailed: the user error, the listener's traceback, redactions.
    assert "user error for" in text
    assert "Traceback (most recent call last)" in text and "RuntimeError: PATCH" in text
    assert "[interaction-token]" in text
    assert "lofi0000" in text or "kazoo0000" in text  # user values are logged, clipped

    _assert_nothing_secret(fd, text, settings)
    for value in (prompt, backend):
        for window in _windows(value):
            assert window not in text, f"{len(window)}+ characters of a user value in the log"


async def test_library_debug_on_request_is_still_redacted(
    fake_discord: FakeDiscord, settings_factory: Callable[..., Settings]
) -> None:
    """LOG_DEBUG_LIBRARIES lets discord.py and aiosqlite print URLs, payloads and SQL parameters: every
    one of them carries the interaction token, and none may reach the log."""
    fd = fake_discord
    guild = fd.add_guild("studio")
    channel = fd.add_text_channel(guild, "music")
    alice = fd.add_user("alice")
    settings = settings_factory(
        discord_guild_id=guild.id,
        log_level="DEBUG",
        log_debug_libraries="discord,aiosqlite",
        openai_api_key=API_KEY,
        enabled_backends="styles",
    )
    assert settings.log_debug_libraries == ("discord", "aiosqlite")
    with app_logging(
        level=settings.log_level,
        secrets=[*settings_secrets(settings), fd.bot_token],
        debug_libraries=settings.log_debug_libraries,
        max_line_chars=settings.log_max_line_chars,
    ) as out:
        async with running_bot(fd, settings):
            inter = await fd.slash_command(
                alice, channel, "music create", {"prompt": "calm piano", "duration": 3}
            )
            await inter.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
    text = out.getvalue()
    assert "aiosqlite: executing" in text and "discord.http:" in text and "discord.gateway:" in text
    assert "/webhooks/" in text and "[interaction-token]" in text
    _assert_nothing_secret(fd, text, settings)
    assert max(len(line) for line in io.StringIO(text)) <= settings.log_max_line_chars + 40
