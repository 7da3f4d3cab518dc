"""Slash commands are synced when they change, not on every start (Discord rate-limits syncs, and a
global sync takes a while to reach everyone): the real bot against the fake Discord, restarted."""

from __future__ import annotations

from collections.abc import Callable

from bot.commands_sync import MARKER_NAME
from services.settings import Settings
from tests.conftest import BotUnderTest, running_bot
from tests.fakediscord import FakeDiscord


def _syncs(fd: FakeDiscord, guild_id: int | None) -> int:
    return sum(1 for synced_guild, _ in fd.store.command_syncs if synced_guild == guild_id)


async def test_a_restart_with_the_same_commands_does_not_sync_again(
    fake_discord: FakeDiscord, settings_factory: Callable[..., Settings]
) -> None:
    fd = fake_discord
    guild = fd.add_guild("studio")
    channel = fd.add_text_channel(guild, "music")
    alice = fd.add_user("alice")
    settings = settings_factory(discord_guild_id=guild.id)

    async with running_bot(fd, settings):
        assert _syncs(fd, guild.id) == 1  # a new data folder: first sync
    assert (settings.data_dir / MARKER_NAME).is_file()

    async with running_bot(fd, settings):
        assert _syncs(fd, guild.id) == 1  # unchanged: no second sync …
        inter = await fd.slash_command(alice, channel, "music backends")
        assert (await inter.wait_response(timeout=10)).ephemeral  # … and the commands still work

    # Another place to sync to is a change: the new guild gets the commands.
    other = fd.add_guild("other")
    moved = settings_factory(discord_guild_id=other.id)
    async with running_bot(fd, moved):
        assert _syncs(fd, other.id) == 1

    # A marker that no longer matches (another version's commands) makes the next start sync.
    (settings.data_dir / MARKER_NAME).write_text('{"fingerprint": "an older release"}', encoding="utf-8")
    async with running_bot(fd, settings):
        assert _syncs(fd, guild.id) == 2


async def test_promptjam_sync_forces_a_sync(
    fake_discord: FakeDiscord, settings_factory: Callable[..., Settings]
) -> None:
    """`promptjam sync` (force) syncs even when nothing changed: an operator's way to repair a guild."""
    fd = fake_discord
    guild = fd.add_guild("studio")
    settings = settings_factory(discord_guild_id=guild.id)
    async with running_bot(fd, settings):
        pass
    bot = BotUnderTest(settings, force_sync=True)
    async with bot:
        await bot.login(fd.bot_token)  # runs setup_hook, as `promptjam sync` does
    assert _syncs(fd, guild.id) == 2
