"""The fake Discord's world: one place that owns every record and the rules for changing messages.

REST routes and the test-facing API both go through these methods, so a message the bot posts and one a test
injects follow the same rules (upload limits, attachment bookkeeping, gateway events, edit history).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .cdn import Cdn, UploadedPart
from .limits import LimitExceeded, check_message
from .state import (
    ADMINISTRATOR,
    EVERYONE_PERMISSIONS,
    JSON,
    MESSAGE_FLAG_EPHEMERAL,
    MESSAGE_FLAG_LOADING,
    FakeChannel,
    FakeGuild,
    FakeRole,
    FakeUser,
    SnowflakeFactory,
    StoredAttachment,
    StoredMessage,
    iso_now,
)
from .waiting import Changes

Dispatch = Callable[[str, JSON], Awaitable[None]]

# With `enforce_nonce`, Discord answers a repeated nonce from the same author with the message it already
# made, for "a few minutes"; discord.py sends enforce_nonce with every nonce.
NONCE_WINDOW_S = 300.0


def _check_limits(payload: JSON) -> None:
    """Discord's size limits: a payload over any of them is refused whole (400, 50035)."""
    try:
        check_message(payload)
    except LimitExceeded as exc:
        raise ApiError(400, 50035, f"Invalid Form Body: {exc}") from None


class ApiError(Exception):
    """An error response in Discord's shape: HTTP status plus a JSON {"message", "code"} body."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(f"{status} {message} (code {code})")
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RegisteredCommand:
    """An application command as the bot synced it, with the id the fake gave it."""

    id: int  # snowflake the fake assigned
    guild_id: int | None  # None for global commands
    data: JSON  # the command JSON as returned to the client (with id, application_id, version)

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def type(self) -> int:
        return int(self.data.get("type", 1))


async def _no_dispatch(event: str, data: JSON) -> None:
    """Placeholder until the gateway is attached."""


class Store:
    """All state of one fake Discord instance; survives bot restarts."""

    def __init__(self, *, bot_name: str = "promptjam") -> None:
        self.ids = SnowflakeFactory()
        self.cdn = Cdn(self.ids)
        self.changes = Changes()
        self.application_id = self.ids.next()
        self.bot = FakeUser(self.application_id, bot_name, bot=True)
        self.owner = FakeUser(self.ids.next(), "owner")
        self.bot_token = f"fake-bot-token.{self.application_id}"
        self.users: dict[int, FakeUser] = {self.bot.id: self.bot, self.owner.id: self.owner}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self.messages: dict[int, StoredMessage] = {}
        self.global_commands: list[RegisteredCommand] = []
        self.guild_commands: dict[int, list[RegisteredCommand]] = {}
        self.command_syncs: list[tuple[int | None, float]] = []  # (guild id or None, time.monotonic())
        self.unhandled: list[str] = []  # "METHOD path" of requests no route matched
        self.dispatch: Dispatch = _no_dispatch

    # -- setup -----------------------------------------------------------------------------------------------
    def add_user(self, name: str, *, bot: bool = False) -> FakeUser:
        user = FakeUser(self.ids.next(), name, bot=bot)
        self.users[user.id] = user
        return user

    def add_guild(self, name: str, *, premium_tier: int = 0, filesize_limit: int | None = None) -> FakeGuild:
        guild_id = self.ids.next()
        guild = FakeGuild(
            guild_id, name, self.owner.id, premium_tier=premium_tier, filesize_limit=filesize_limit
        )
        bot_role = FakeRole(self.ids.next(), self.bot.name, ADMINISTRATOR, position=1)
        guild.roles = [FakeRole(guild_id, "@everyone", EVERYONE_PERMISSIONS), bot_role]
        guild.member_ids = [self.owner.id, self.bot.id]
        guild.member_roles[self.bot.id] = [bot_role.id]
        self.guilds[guild_id] = guild
        return guild

    def add_member(self, guild: FakeGuild, user: FakeUser) -> None:
        if user.id not in guild.member_ids:
            guild.member_ids.append(user.id)

    def add_channel(
        self, guild: FakeGuild | None, name: str, *, type: int = 0, **extra: int | None
    ) -> FakeChannel:
        channel = FakeChannel(
            self.ids.next(), name, type, guild.id if guild else None, position=len(self.channels), **extra
        )
        return self._register_channel(channel)

    def _register_channel(self, channel: FakeChannel) -> FakeChannel:
        self.channels[channel.id] = channel
        if channel.guild_id is not None:
            self.guilds[channel.guild_id].channels.append(channel)
        self.changes.notify()
        return channel

    # -- lookups ---------------------------------------------------------------------------------------------
    def channel(self, channel_id: int) -> FakeChannel:
        try:
            return self.channels[channel_id]
        except KeyError:
            raise ApiError(404, 10003, "Unknown Channel") from None

    def guild(self, guild_id: int) -> FakeGuild:
        try:
            return self.guilds[guild_id]
        except KeyError:
            raise ApiError(404, 10004, "Unknown Guild") from None

    def message(self, channel_id: int | None, message_id: int) -> StoredMessage:
        message = self.messages.get(message_id)
        if (
            message is None
            or message.deleted
            or (channel_id is not None and message.channel_id != channel_id)
        ):
            raise ApiError(404, 10008, "Unknown Message")
        return message

    def user(self, user_id: int) -> FakeUser:
        try:
            return self.users[user_id]
        except KeyError:
            raise ApiError(404, 10013, "Unknown User") from None

    def channel_messages(self, channel_id: int, *, include_deleted: bool = False) -> list[StoredMessage]:
        return [
            m
            for m in self.messages.values()
            if m.channel_id == channel_id and (include_deleted or not m.deleted)
        ]

    def message_payload(self, message: StoredMessage) -> JSON:
        data = message.payload(self.application_id)
        if message.guild_id is not None and message.author.id in self.guild(message.guild_id).member_ids:
            data["member"] = self.guild(message.guild_id).member_payload(message.author, with_user=False)
        return data

    # -- attachments -----------------------------------------------------------------------------------------
    def _check_upload_limit(self, channel: FakeChannel, parts: list[UploadedPart]) -> None:
        if channel.guild_id is None:
            limit = 10 * 1024 * 1024
        else:
            limit = self.guild(channel.guild_id).upload_limit
        for part in parts:
            if len(part.data) > limit:
                raise ApiError(413, 40005, "Request entity too large")

    def _resolve_attachments(
        self,
        channel: FakeChannel,
        payload: JSON,
        parts: list[UploadedPart],
        existing: list[StoredAttachment],
    ) -> list[StoredAttachment]:
        """Apply payload["attachments"]: keep listed existing ones, add listed uploads (by files[n] index)."""
        self._check_upload_limit(channel, parts)
        by_index = {p.index: p for p in parts if p.index is not None}
        listed = payload.get("attachments")
        if listed is None:
            return existing + [self._store_part(channel, p, None) for p in parts]
        kept = {a.id: a for a in existing}
        result: list[StoredAttachment] = []
        used: set[int] = set()
        for item in listed:
            ident = int(item["id"])
            if ident in kept:
                result.append(kept[ident])
            elif ident in by_index:
                used.add(ident)
                result.append(self._store_part(channel, by_index[ident], item))
            else:
                raise ApiError(
                    400, 50035, f"Invalid Form Body: attachment {ident} is neither uploaded nor existing"
                )
        result.extend(
            self._store_part(channel, p, None) for p in parts if p.index is not None and p.index not in used
        )
        return result

    def _store_part(self, channel: FakeChannel, part: UploadedPart, item: JSON | None) -> StoredAttachment:
        filename = str((item or {}).get("filename") or part.filename)
        description = (item or {}).get("description")
        return self.cdn.store(channel.id, filename, part.data, part.content_type, description)

    # -- messages --------------------------------------------------------------------------------------------
    async def create_message(
        self,
        channel_id: int,
        author: FakeUser,
        payload: JSON,
        parts: list[UploadedPart],
        *,
        type: int = 0,
        webhook_id: int | None = None,
        interaction_id: int | None = None,
        extra_flags: int = 0,
        preset_attachments: list[StoredAttachment] | None = None,
    ) -> StoredMessage:
        """Store a new message and tell the bot about it (unless ephemeral), like Discord does."""
        _check_limits(payload)
        channel = self.channel(channel_id)
        attachments = self._resolve_attachments(channel, payload, parts, [])
        message = StoredMessage(
            id=self.ids.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=author,
            content=str(payload.get("content") or ""),
            embeds=list(payload.get("embeds") or []),
            components=list(payload.get("components") or []),
            attachments=(preset_attachments or []) + attachments,
            flags=int(payload.get("flags") or 0) | extra_flags,
            type=type,
            allowed_mentions=payload.get("allowed_mentions"),
            webhook_id=webhook_id,
            interaction_id=interaction_id,
            message_reference=payload.get("message_reference"),
            nonce=None if payload.get("nonce") is None else str(payload["nonce"]),
        )
        message.snapshot()
        self.messages[message.id] = message
        channel.last_message_id = message.id
        if not message.ephemeral:
            await self.dispatch("MESSAGE_CREATE", self.message_payload(message))
        self.changes.notify()
        return message

    def find_by_nonce(self, channel_id: int, author: FakeUser, nonce: str) -> StoredMessage | None:
        """A message `author` sent in `channel_id` with this nonce within Discord's window, if any."""
        now = time.monotonic()
        for message in self.messages.values():
            if (
                message.channel_id == channel_id
                and message.author.id == author.id
                and message.nonce == nonce
                and now - message.created_at < NONCE_WINDOW_S
            ):
                return message
        return None

    async def edit_message(
        self, message: StoredMessage, payload: JSON, parts: list[UploadedPart]
    ) -> StoredMessage:
        """Apply a PATCH: only keys present change; a loading (deferred) message stops loading."""
        _check_limits(payload)
        channel = self.channel(message.channel_id)
        if "content" in payload:
            message.content = str(payload["content"] or "")
        if "embeds" in payload:
            message.embeds = list(payload["embeds"] or [])
        if "components" in payload:
            message.components = list(payload["components"] or [])
        if "allowed_mentions" in payload:
            message.allowed_mentions = payload["allowed_mentions"]
        if "attachments" in payload or parts:
            message.attachments = self._resolve_attachments(channel, payload, parts, message.attachments)
        if "flags" in payload and payload["flags"] is not None:
            message.flags = int(payload["flags"]) | (message.flags & MESSAGE_FLAG_EPHEMERAL)
        message.flags &= ~MESSAGE_FLAG_LOADING
        message.edited_timestamp = iso_now()
        message.snapshot()
        if not message.ephemeral:
            await self.dispatch("MESSAGE_UPDATE", self.message_payload(message))
        self.changes.notify()
        return message

    async def delete_message(self, message: StoredMessage) -> None:
        message.deleted = True
        if not message.ephemeral:
            data: JSON = {"id": str(message.id), "channel_id": str(message.channel_id)}
            if message.guild_id is not None:
                data["guild_id"] = str(message.guild_id)
            await self.dispatch("MESSAGE_DELETE", data)
        self.changes.notify()

    # -- threads and DMs -------------------------------------------------------------------------------------
    async def create_thread(
        self, parent: FakeChannel, name: str, *, type: int, thread_id: int | None
    ) -> FakeChannel:
        if parent.guild_id is None or parent.is_thread:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        thread = FakeChannel(
            thread_id or self.ids.next(),
            name,
            type,
            parent.guild_id,
            parent_id=parent.id,
            owner_id=self.bot.id,
        )
        if thread.id in self.channels:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        self._register_channel(thread)
        data = thread.payload()
        data["newly_created"] = True
        await self.dispatch("THREAD_CREATE", data)
        return thread

    def dm_channel(self, user: FakeUser) -> FakeChannel:
        for channel in self.channels.values():
            if channel.type == 1 and channel.recipient_id == user.id:
                return channel
        return self._register_channel(FakeChannel(self.ids.next(), user.name, 1, None, recipient_id=user.id))
