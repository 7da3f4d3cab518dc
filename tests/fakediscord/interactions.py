"""Interactions the test sends to the bot, and what the bot answered to each.

Options are typed from the command schema the bot synced (so a test writes `options={"duration": 10}` and the
fake sends an INTEGER because the command declared one); sending a command the bot never synced is an error,
just as Discord could never deliver it.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .state import (
    JSON,
    CallbackRecord,
    FakeChannel,
    FakeRole,
    FakeUser,
    StoredAttachment,
    StoredMessage,
)
from .store import RegisteredCommand, Store

INTERACTION_PING, INTERACTION_COMMAND, INTERACTION_COMPONENT = 1, 2, 3
INTERACTION_AUTOCOMPLETE, INTERACTION_MODAL_SUBMIT = 4, 5

OPT_SUBCOMMAND, OPT_GROUP, OPT_STRING, OPT_INTEGER, OPT_BOOLEAN = 1, 2, 3, 4, 5
OPT_USER, OPT_CHANNEL, OPT_ROLE, OPT_MENTIONABLE, OPT_NUMBER, OPT_ATTACHMENT = 6, 7, 8, 9, 10, 11


@dataclass
class FakeInteraction:
    """An interaction the fake dispatched, and everything the bot did with its token."""

    id: int  # snowflake, also the interaction id discord.py sees
    token: str  # interaction token used by callbacks and webhooks
    type: int  # 2 command, 3 component, 4 autocomplete, 5 modal submit
    user: FakeUser  # who "clicked"
    channel_id: int  # where it happened
    guild_id: int | None  # guild, None in DMs
    payload: JSON  # the INTERACTION_CREATE data as sent
    store: Store = field(repr=False)  # to wait on and look up messages
    dispatched_at: float = field(default_factory=time.monotonic)  # time.monotonic() of dispatch
    callbacks: list[CallbackRecord] = field(default_factory=list)  # every callback POST, in order
    original_message_id: int | None = None  # message behind @original (response, or the clicked message)
    followup_ids: list[int] = field(default_factory=list)  # messages created through the webhook
    expired: bool = False  # set by FakeDiscord.expire_token: webhooks then answer 401
    source_message_id: int | None = None  # message a component lives on

    @property
    def original(self) -> StoredMessage | None:
        if self.original_message_id is None:
            return None
        return self.store.messages.get(self.original_message_id)

    @property
    def followups(self) -> list[StoredMessage]:
        return [self.store.messages[i] for i in self.followup_ids]

    def _describe(self, what: str) -> str:
        return (
            f"{what} of interaction {self.id} (type {self.type}); "
            f"callbacks={[c.type for c in self.callbacks]}, "
            f"followups={len(self.followup_ids)}, unhandled routes={self.store.unhandled}"
        )

    async def wait_response(self, timeout: float = 5.0) -> CallbackRecord:
        """The first callback (type 4/5/6/7/8/9); `.latency` is seconds since dispatch."""
        return await self.store.changes.wait_until(
            lambda: self.callbacks[0] if self.callbacks else None,
            timeout,
            lambda: self._describe("a callback"),
        )

    async def wait_followup(
        self, timeout: float = 10.0, predicate: Callable[[StoredMessage], bool] | None = None
    ) -> StoredMessage:
        """The first followup message (POST /webhooks/{app}/{token}) that satisfies `predicate`."""

        def probe() -> StoredMessage | None:
            for message in self.followups:
                if predicate is None or predicate(message):
                    return message
            return None

        return await self.store.changes.wait_until(probe, timeout, lambda: self._describe("a followup"))

    async def wait_original_edit(
        self, timeout: float = 10.0, predicate: Callable[[StoredMessage], bool] | None = None
    ) -> StoredMessage:
        """The @original message once it has been edited and satisfies `predicate`."""

        def probe() -> StoredMessage | None:
            message = self.original
            if message is None or not message.edits:
                return None
            return message if predicate is None or predicate(message) else None

        return await self.store.changes.wait_until(
            probe, timeout, lambda: self._describe("an edit of @original")
        )


def _find_option(options: list[JSON], name: str, where: str) -> JSON:
    for option in options:
        if option.get("name") == name:
            return option
    names = [o.get("name") for o in options]
    raise ValueError(f"{where} has no option {name!r}; it has {names}")


@dataclass
class _Resolved:
    """Collects resolved users/members/channels/roles/attachments while options are converted."""

    store: Store  # for guild lookups
    guild_id: int | None  # members are resolved only in guilds
    data: JSON = field(default_factory=dict)  # the "resolved" object being built

    def add(self, kind: str, key: int, value: JSON) -> None:
        self.data.setdefault(kind, {})[str(key)] = value

    def convert(self, option_type: int, value: Any, channel_id: int) -> Any:
        if option_type == OPT_USER or (option_type == OPT_MENTIONABLE and isinstance(value, FakeUser)):
            assert isinstance(value, FakeUser), f"user option needs a FakeUser, got {value!r}"
            self.add("users", value.id, value.payload())
            if self.guild_id is not None:
                member = self.store.guild(self.guild_id).member_payload(
                    value, with_user=False, permissions=True
                )
                self.add("members", value.id, member)
            return str(value.id)
        if option_type == OPT_CHANNEL:
            assert isinstance(value, FakeChannel), f"channel option needs a FakeChannel, got {value!r}"
            channel = value.payload()
            channel["permissions"] = str((1 << 41) - 1)
            self.add("channels", value.id, channel)
            return str(value.id)
        if option_type in (OPT_ROLE, OPT_MENTIONABLE):
            assert isinstance(value, FakeRole), f"role option needs a FakeRole, got {value!r}"
            self.add("roles", value.id, value.payload())
            return str(value.id)
        if option_type == OPT_ATTACHMENT:
            if isinstance(value, tuple):
                filename, data = value
                value = self.store.cdn.store(channel_id, filename, data)
            assert isinstance(value, StoredAttachment), (
                "attachment option needs (filename, bytes) or an attachment"
            )
            self.add("attachments", value.id, value.payload())
            return str(value.id)
        if option_type == OPT_INTEGER:
            return int(value)
        if option_type == OPT_NUMBER:
            return float(value)
        if option_type == OPT_BOOLEAN:
            return bool(value)
        return str(value)


def find_command(store: Store, name: str, guild_id: int | None, type: int) -> RegisteredCommand:
    """The synced command Discord would route: guild commands first, then global ones."""
    pools = [store.guild_commands.get(guild_id, []) if guild_id else [], store.global_commands]
    for pool in pools:
        for command in pool:
            if command.name == name and command.type == type:
                return command
    synced = [c.name for c in store.global_commands] + [
        f"{c.name}@{g}" for g, cs in store.guild_commands.items() for c in cs
    ]
    raise LookupError(f"command {name!r} (type {type}) was never synced by the bot; synced: {synced}")


def build_command_data(
    store: Store,
    command: RegisteredCommand,
    path: list[str],
    options: dict[str, Any],
    channel_id: int,
    guild_id: int | None,
    focused: str | None = None,
) -> JSON:
    """The `data` of a chat-input command (or autocomplete) interaction, typed from the synced schema."""
    resolved = _Resolved(store, guild_id)
    schema: list[JSON] = list(command.data.get("options", []))
    where = f"/{command.name}"
    leaf: list[JSON] = []
    nest: list[JSON] = leaf
    wrappers: list[JSON] = []
    for part in path:
        option = _find_option(schema, part, where)
        if option["type"] not in (OPT_SUBCOMMAND, OPT_GROUP):
            raise ValueError(f"{where} {part} is not a subcommand or group")
        wrapper: JSON = {"type": option["type"], "name": part, "options": []}
        wrappers.append(wrapper)
        schema = list(option.get("options", []))
        where = f"{where} {part}"
    for name, value in options.items():
        option = _find_option(schema, name, where)
        item: JSON = {"type": option["type"], "name": name}
        if name == focused:
            item["value"] = str(value)
            item["focused"] = True
        else:
            item["value"] = resolved.convert(int(option["type"]), value, channel_id)
        leaf.append(item)
    if name_missing := [o["name"] for o in schema if o.get("required") and o["name"] not in options]:
        if focused is None:
            raise ValueError(f"{where} needs required options {name_missing}")
    for wrapper in reversed(wrappers):
        wrapper["options"] = nest
        nest = [wrapper]
    data: JSON = {"id": str(command.id), "name": command.name, "type": command.type, "options": nest}
    if command.guild_id is not None:
        data["guild_id"] = str(command.guild_id)
    if resolved.data:
        data["resolved"] = resolved.data
    return data


def build_interaction(
    store: Store,
    *,
    type: int,
    user: FakeUser,
    channel: FakeChannel,
    data: JSON,
    message: StoredMessage | None = None,
) -> tuple[int, str, JSON]:
    """(id, token, INTERACTION_CREATE payload) for an interaction by `user` in `channel`."""
    interaction_id = store.ids.next()
    # Shaped like Discord's, base64url of "interaction:<id>:<random>": redaction is tested on the real shape.
    raw = f"interaction:{interaction_id}:{secrets.token_urlsafe(96)}".encode()
    token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    payload: JSON = {
        "id": str(interaction_id),
        "application_id": str(store.application_id),
        "type": type,
        "data": data,
        "channel_id": str(channel.id),
        "channel": channel.payload(store.users),
        "token": token,
        "version": 1,
        "locale": "en-US",
        "entitlements": [],
        "app_permissions": str((1 << 41) - 1),
    }
    if channel.guild_id is not None:
        guild = store.guild(channel.guild_id)
        if user.id not in guild.member_ids:
            raise ValueError(
                f"{user.name} is not a member of guild {guild.name}; use add_user(..., guild=...)"
            )
        payload.update(
            guild_id=str(guild.id),
            guild={"id": str(guild.id), "locale": "en-US", "features": []},
            guild_locale="en-US",
            member=guild.member_payload(user, permissions=True),
            authorizing_integration_owners={"0": str(guild.id)},
            context=0,
            attachment_size_limit=guild.upload_limit,
        )
    else:
        payload.update(
            user=user.payload(),
            authorizing_integration_owners={"0": str(user.id)},
            context=1,
            attachment_size_limit=10 * 1024 * 1024,
        )
    if message is not None:
        payload["message"] = store.message_payload(message)
    return interaction_id, token, payload
