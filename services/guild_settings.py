"""Per-guild settings admins change from Discord (listening channels, the code backend), in the database."""

from __future__ import annotations

import json
from pathlib import Path

from services.storage.base import SqliteStore
from services.storage.migrations import Migration, add_columns

MIGRATIONS = (
    Migration(
        1,
        "listening channels per guild, as the first release made them",
        (
            "CREATE TABLE IF NOT EXISTS guild_settings ("
            "guild_id INTEGER PRIMARY KEY, listen_channels TEXT NOT NULL DEFAULT '[]')",
        ),
    ),
    Migration(
        2,
        "code_enabled: an admin's switch for the code backend (off by default)",
        (add_columns("guild_settings", code_enabled="INTEGER NOT NULL DEFAULT 0"),),
    ),
    Migration(
        3,
        "jam_messages: plain messages in a jam's thread count as prompts (off by default)",
        (add_columns("guild_settings", jam_messages="INTEGER NOT NULL DEFAULT 0"),),
    ),
)


class GuildSettingsStore(SqliteStore):
    """Listening channels per guild, cached in memory (read on every message), written through to SQLite."""

    name = "guild_settings"
    migrations = MIGRATIONS

    def __init__(self, path: Path | str) -> None:
        super().__init__(path)
        self._listen: dict[int, set[int]] = {}
        self._code: set[int] = set()
        self._jam_messages: set[int] = set()

    async def _opened(self) -> None:
        query = "SELECT guild_id, listen_channels, code_enabled, jam_messages FROM guild_settings"
        async with self.db.execute(query) as cur:
            async for guild_id, channels, code, jam_messages in cur:
                self._listen[int(guild_id)] = {int(c) for c in json.loads(channels)}
                if code:
                    self._code.add(int(guild_id))
                if jam_messages:
                    self._jam_messages.add(int(guild_id))

    def is_listening(self, guild_id: int | None, channel_id: int) -> bool:
        return guild_id is not None and channel_id in self._listen.get(guild_id, set())

    def listening_channels(self, guild_id: int) -> set[int]:
        return set(self._listen.get(guild_id, set()))

    async def set_listening(self, guild_id: int, channel_id: int, enabled: bool) -> None:
        db = self.db  # not open: fail before the cache changes
        channels = self._listen.setdefault(guild_id, set())
        if enabled:
            channels.add(channel_id)
        else:
            channels.discard(channel_id)
        await db.execute(
            "INSERT INTO guild_settings (guild_id, listen_channels) VALUES (?, ?) "
            "ON CONFLICT(guild_id) DO UPDATE SET listen_channels = excluded.listen_channels",
            (guild_id, json.dumps(sorted(channels))),
        )
        await db.commit()

    def code_enabled(self, guild_id: int | None) -> bool:
        """Whether an admin of this guild turned the code backend on (off by default)."""
        return guild_id is not None and guild_id in self._code

    async def set_code_enabled(self, guild_id: int, enabled: bool) -> None:
        db = self.db  # not open: fail before the cache changes
        if enabled:
            self._code.add(guild_id)
        else:
            self._code.discard(guild_id)
        await db.execute(
            "INSERT INTO guild_settings (guild_id, code_enabled) VALUES (?, ?) "
            "ON CONFLICT(guild_id) DO UPDATE SET code_enabled = excluded.code_enabled",
            (guild_id, int(enabled)),
        )
        await db.commit()

    def jam_messages(self, guild_id: int | None) -> bool:
        """Whether plain messages in a jam's thread count as prompts in this guild (off by default)."""
        return guild_id is not None and guild_id in self._jam_messages

    async def set_jam_messages(self, guild_id: int, enabled: bool) -> None:
        db = self.db  # not open: fail before the cache changes
        if enabled:
            self._jam_messages.add(guild_id)
        else:
            self._jam_messages.discard(guild_id)
        await db.execute(
            "INSERT INTO guild_settings (guild_id, jam_messages) VALUES (?, ?) "
            "ON CONFLICT(guild_id) DO UPDATE SET jam_messages = excluded.jam_messages",
            (guild_id, int(enabled)),
        )
        await db.commit()
