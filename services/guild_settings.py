"""Per-guild settings admins change from Discord (listening channels, the code backend), in the database."""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType

import aiosqlite

from services.sqlite import connect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS guild_settings (
    guild_id         INTEGER PRIMARY KEY,
    listen_channels  TEXT NOT NULL DEFAULT '[]',
    code_enabled     INTEGER NOT NULL DEFAULT 0,
    jam_messages     INTEGER NOT NULL DEFAULT 0
);
"""


class GuildSettingsStore:
    """Listening channels per guild, cached in memory (read on every message), written through to SQLite."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._listen: dict[int, set[int]] = {}
        self._code: set[int] = set()
        self._jam_messages: set[int] = set()

    async def __aenter__(self) -> GuildSettingsStore:
        self._db = await connect(self.path, _SCHEMA)
        query = "SELECT guild_id, listen_channels, code_enabled, jam_messages FROM guild_settings"
        async with self._db.execute(query) as cur:
            async for guild_id, channels, code, jam_messages in cur:
                self._listen[int(guild_id)] = {int(c) for c in json.loads(channels)}
                if code:
                    self._code.add(int(guild_id))
                if jam_messages:
                    self._jam_messages.add(int(guild_id))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    def is_listening(self, guild_id: int | None, channel_id: int) -> bool:
        return guild_id is not None and channel_id in self._listen.get(guild_id, set())

    def listening_channels(self, guild_id: int) -> set[int]:
        return set(self._listen.get(guild_id, set()))

    async def set_listening(self, guild_id: int, channel_id: int, enabled: bool) -> None:
        if self._db is None:
            raise RuntimeError("GuildSettingsStore is not open")
        channels = self._listen.setdefault(guild_id, set())
        if enabled:
            channels.add(channel_id)
        else:
            channels.discard(channel_id)
        await self._db.execute(
            "INSERT INTO guild_settings (guild_id, listen_channels) VALUES (?, ?) "
            "ON CONFLICT(guild_id) DO UPDATE SET listen_channels = excluded.listen_channels",
            (guild_id, json.dumps(sorted(channels))),
        )
        await self._db.commit()

    def code_enabled(self, guild_id: int | None) -> bool:
        """Whether an admin of this guild turned the code backend on (off by default)."""
        return guild_id is not None and guild_id in self._code

    async def set_code_enabled(self, guild_id: int, enabled: bool) -> None:
        if self._db is None:
            raise RuntimeError("GuildSettingsStore is not open")
        if enabled:
            self._code.add(guild_id)
        else:
            self._code.discard(guild_id)
        await self._db.execute(
            "INSERT INTO guild_settings (guild_id, code_enabled) VALUES (?, ?) "
            "ON CONFLICT(guild_id) DO UPDATE SET code_enabled = excluded.code_enabled",
            (guild_id, int(enabled)),
        )
        await self._db.commit()

    def jam_messages(self, guild_id: int | None) -> bool:
        """Whether plain messages in a jam's thread count as prompts in this guild (off by default)."""
        return guild_id is not None and guild_id in self._jam_messages

    async def set_jam_messages(self, guild_id: int, enabled: bool) -> None:
        if self._db is None:
            raise RuntimeError("GuildSettingsStore is not open")
        if enabled:
            self._jam_messages.add(guild_id)
        else:
            self._jam_messages.discard(guild_id)
        await self._db.execute(
            "INSERT INTO guild_settings (guild_id, jam_messages) VALUES (?, ?) "
            "ON CONFLICT(guild_id) DO UPDATE SET jam_messages = excluded.jam_messages",
            (guild_id, int(enabled)),
        )
        await self._db.commit()
