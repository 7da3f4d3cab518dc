"""What the fake Discord remembers: users, guilds, channels, messages, commands and interactions.

Everything here is plain data plus the JSON shapes Discord uses on the wire, so REST routes, the gateway and
the test-facing API all build payloads from one place and tests can assert on the stored records directly.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]

# Discord's epoch (2015-01-01) in milliseconds; snowflakes carry their creation time relative to it.
DISCORD_EPOCH_MS = 1420070400000

# Bytes per upload allowed by guild premium tier, matching discord.py's Guild.filesize_limit table.
FILESIZE_BY_TIER: dict[int, int] = {
    0: 10 * 1024 * 1024,
    1: 10 * 1024 * 1024,
    2: 50 * 1024 * 1024,
    3: 100 * 1024 * 1024,
}

# Bits granted to @everyone in fake guilds: view, send, embed, attach, history, threads, app commands.
EVERYONE_PERMISSIONS = (
    (1 << 10) | (1 << 11) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 35) | (1 << 38) | (1 << 31)
)
# The bot's role is an administrator, so permission checks in the bot never fail for lack of a grant.
ADMINISTRATOR = 1 << 3

MESSAGE_FLAG_EPHEMERAL = 1 << 6
MESSAGE_FLAG_LOADING = 1 << 7


def iso_now() -> str:
    """Discord timestamps are ISO 8601 with an offset; discord.py parses them with fromisoformat."""
    return datetime.now(UTC).isoformat()


class SnowflakeFactory:
    """Monotonic, unique ids that still decode to a plausible creation time in discord.py."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self) -> int:
        millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (millis << 22) | (next(self._counter) & 0x3FFFFF)


@dataclass
class FakeUser:
    """A Discord account, human or bot."""

    id: int  # snowflake
    name: str  # username (also used as global display name)
    bot: bool = False  # True for the bot under test

    def payload(self) -> JSON:
        return {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": self.name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
        }


@dataclass
class FakeRole:
    """A guild role; the @everyone role shares the guild's id like on Discord."""

    id: int  # snowflake
    name: str  # display name
    permissions: int  # permission bit set
    position: int = 0  # ordering in the role list

    def payload(self) -> JSON:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }


@dataclass
class FakeChannel:
    """A guild text channel, a thread, or a DM channel (guild is None)."""

    id: int  # snowflake
    name: str  # channel name
    type: int  # Discord channel type: 0 text, 1 DM, 11 public thread, 12 private thread
    guild_id: int | None  # owning guild, None for DMs
    parent_id: int | None = None  # parent text channel for threads
    owner_id: int | None = None  # creator of a thread
    recipient_id: int | None = None  # the other user of a DM channel
    position: int = 0  # ordering in the channel list
    last_message_id: int | None = None  # newest message, kept current like Discord does

    @property
    def is_thread(self) -> bool:
        return self.type in (10, 11, 12)

    def payload(self, users: dict[int, FakeUser] | None = None) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "last_message_id": str(self.last_message_id) if self.last_message_id else None,
            "flags": 0,
        }
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.type == 1:
            recipient = (users or {}).get(self.recipient_id or 0)
            data["recipients"] = [recipient.payload()] if recipient else []
            return data
        data.update(
            position=self.position,
            permission_overwrites=[],
            nsfw=False,
            rate_limit_per_user=0,
            parent_id=str(self.parent_id) if self.parent_id else None,
        )
        if self.type == 0:
            data["topic"] = None
        if self.is_thread:
            data.update(
                owner_id=str(self.owner_id),
                message_count=0,
                member_count=1,
                total_message_sent=0,
                thread_metadata={
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": iso_now(),
                    "locked": False,
                },
            )
        return data


@dataclass
class FakeGuild:
    """A guild (server) with its channels, roles and members; the bot is always a member."""

    id: int  # snowflake, also the @everyone role id
    name: str  # guild name
    owner_id: int  # a member who owns the guild
    premium_tier: int = 0  # boost tier 0-3; discord.py derives Guild.filesize_limit from it
    filesize_limit: int | None = None  # overrides the per-tier upload limit the fake enforces
    channels: list[FakeChannel] = field(default_factory=list)  # text channels and threads
    roles: list[FakeRole] = field(default_factory=list)  # @everyone first
    member_ids: list[int] = field(default_factory=list)  # users who are members
    member_roles: dict[int, list[int]] = field(default_factory=dict)  # extra role ids per member
    joined_at: str = field(default_factory=iso_now)  # when everybody joined, for member payloads

    @property
    def upload_limit(self) -> int:
        """Bytes a single upload may have in this guild, as Discord enforces it (413 above it)."""
        if self.filesize_limit is not None:
            return self.filesize_limit
        return FILESIZE_BY_TIER.get(self.premium_tier, FILESIZE_BY_TIER[0])

    def permissions_of(self, user_id: int) -> int:
        perms = 0
        wanted = {self.id, *self.member_roles.get(user_id, [])}
        for role in self.roles:
            if role.id in wanted:
                perms |= role.permissions
        if user_id == self.owner_id:
            perms |= ADMINISTRATOR
        return perms

    def member_payload(self, user: FakeUser, *, with_user: bool = True, permissions: bool = False) -> JSON:
        data: JSON = {
            "nick": None,
            "avatar": None,
            "roles": [str(r) for r in self.member_roles.get(user.id, [])],
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = user.payload()
        if permissions:
            data["permissions"] = str(self.permissions_of(user.id))
        return data

    def payload(self, users: dict[int, FakeUser]) -> JSON:
        """The full GUILD_CREATE shape (GET /guilds/{id} uses the same minus gateway-only keys)."""
        members = [self.member_payload(users[uid]) for uid in self.member_ids]
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "region": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": self.premium_tier,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "features": [],
            "roles": [r.payload() for r in self.roles],
            "emojis": [],
            "stickers": [],
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "vanity_url_code": None,
            "application_id": None,
            "max_members": 500000,
            "member_count": len(members),
            "large": False,
            "unavailable": False,
            "joined_at": self.joined_at,
            "channels": [c.payload() for c in self.channels if not c.is_thread],
            "threads": [c.payload() for c in self.channels if c.is_thread],
            "members": members,
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }


@dataclass
class StoredAttachment:
    """A file that was uploaded (by the bot) or provided by a test (as a user's upload); served by the CDN."""

    id: int  # snowflake
    filename: str  # name as uploaded
    data: bytes  # the exact bytes received
    content_type: str | None  # MIME type from the multipart part (or given by the test)
    url: str  # where the fake CDN serves the bytes
    description: str | None = None  # alt text, if any
    declared_size: int | None = None  # the size Discord tells the bot, when a test makes it lie

    def payload(self) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "filename": self.filename,
            "size": len(self.data) if self.declared_size is None else self.declared_size,
            "url": self.url,
            "proxy_url": self.url,
        }
        if self.content_type:
            data["content_type"] = self.content_type
        if self.description:
            data["description"] = self.description
        return data


@dataclass(frozen=True)
class MessageRevision:
    """One state of a message: its creation or an edit, with when it happened."""

    at: float  # time.monotonic() when the fake stored this revision
    content: str  # message text
    embeds: list[JSON]  # embed objects as sent
    components: list[JSON]  # component rows as sent
    attachments: list[StoredAttachment]  # attachments after this revision
    flags: int  # message flags after this revision


@dataclass
class StoredMessage:
    """A message in a channel, with its whole edit history, as the fake Discord recorded it."""

    id: int  # snowflake
    channel_id: int  # channel or thread it lives in
    guild_id: int | None  # guild, None in DMs
    author: FakeUser  # who posted it (the bot for responses and followups)
    content: str  # current text
    embeds: list[JSON]  # current embeds
    components: list[JSON]  # current component rows
    attachments: list[StoredAttachment]  # current attachments
    flags: int  # current message flags (64 ephemeral, 128 loading)
    type: int = 0  # Discord message type: 0 default, 20 chat-input command response, 23 context menu
    created_at: float = field(default_factory=time.monotonic)  # time.monotonic() of creation
    timestamp: str = field(default_factory=iso_now)  # ISO creation time sent to the client
    edited_timestamp: str | None = None  # ISO time of the latest edit
    allowed_mentions: JSON | None = None  # allowed_mentions as sent with the latest write
    webhook_id: int | None = None  # the application id for interaction responses/followups
    interaction_id: int | None = None  # interaction this message answers, if any
    message_reference: JSON | None = None  # reply target, as sent
    nonce: str | None = None  # the sender's nonce, as sent (POST /channels/{id}/messages)
    deleted: bool = False  # set by DELETE; deleted messages stay stored for assertions
    history: list[MessageRevision] = field(default_factory=list)  # creation first, then every edit
    reactions: dict[str, set[int]] = field(default_factory=dict)  # emoji -> user ids who reacted

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & MESSAGE_FLAG_EPHEMERAL)

    @property
    def edits(self) -> list[MessageRevision]:
        """Revisions after creation."""
        return self.history[1:]

    def snapshot(self) -> None:
        """Append the current state to the history (called on create and on every edit)."""
        self.history.append(
            MessageRevision(
                at=time.monotonic(),
                content=self.content,
                embeds=list(self.embeds),
                components=list(self.components),
                attachments=list(self.attachments),
                flags=self.flags,
            )
        )

    def file(self, filename: str) -> bytes:
        """Bytes of the attachment with this filename (KeyError when there is none)."""
        for attachment in self.attachments:
            if attachment.filename == filename:
                return attachment.data
        raise KeyError(
            f"message {self.id} has no attachment {filename!r}: {[a.filename for a in self.attachments]}"
        )

    def payload(self, application_id: int) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "type": self.type,
            "content": self.content,
            "author": self.author.payload(),
            "attachments": [a.payload() for a in self.attachments],
            "embeds": self.embeds,
            "components": self.components,
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": self.timestamp,
            "edited_timestamp": self.edited_timestamp,
            "flags": self.flags,
        }
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
            data["application_id"] = str(application_id)
        if self.interaction_id is not None:
            data["interaction_metadata"] = {
                "id": str(self.interaction_id),
                "type": 2,
                "user": self.author.payload(),
                "authorizing_integration_owners": {},
            }
        if self.message_reference is not None:
            data["message_reference"] = self.message_reference
        if self.nonce is not None:
            data["nonce"] = self.nonce
        if self.reactions:
            data["reactions"] = [
                {"emoji": {"id": None, "name": emoji}, "count": len(users), "me": False, "burst_colors": []}
                for emoji, users in self.reactions.items()
                if users
            ]
        return data


@dataclass(frozen=True)
class CallbackRecord:
    """One POST /interactions/{id}/{token}/callback the bot made."""

    type: int  # 4 message, 5 deferred message, 6 deferred update, 7 update, 8 autocomplete, 9 modal
    data: JSON  # the callback's "data" object (content, flags, embeds, components, choices, ...)
    received_at: float  # time.monotonic() when the fake received it
    latency: float  # seconds between dispatching the interaction and receiving this callback
    files: list[StoredAttachment]  # files uploaded with it (multipart)

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.data.get("flags", 0) or 0) & MESSAGE_FLAG_EPHEMERAL)

    @property
    def content(self) -> str | None:
        value = self.data.get("content")
        return None if value is None else str(value)

    @property
    def choices(self) -> list[JSON]:
        """Autocomplete choices (type 8)."""
        return list(self.data.get("choices", []))
