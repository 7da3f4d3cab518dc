"""FakeDiscord: the test-facing object that runs the fake server and plays the users' side.

It starts an aiohttp server on 127.0.0.1 (random port) in the test's own event loop, so a bot running in the
same loop talks to it through real sockets with the real discord.py client.
"""

from __future__ import annotations

import contextlib
import fnmatch
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

import yarl
from aiohttp import web

from .cdn import Cdn, CdnFault
from .faults import Fault
from .gateway import Gateway, Heartbeat
from .interactions import (
    INTERACTION_AUTOCOMPLETE,
    INTERACTION_COMMAND,
    INTERACTION_COMPONENT,
    INTERACTION_MODAL_SUBMIT,
    FakeInteraction,
    build_command_data,
    build_interaction,
    find_command,
)
from .rest import API, Rest
from .state import FakeChannel, FakeGuild, FakeUser, StoredAttachment, StoredMessage
from .store import RegisteredCommand, Store


@contextlib.contextmanager
def point_discord_py_at(base_url: str) -> Iterator[None]:
    """Point discord.py's REST base (webhooks and callbacks use it too), default gateway and CDN base at
    a fake Discord at `base_url` (http://127.0.0.1:PORT); restore on exit. Usable in a bot subprocess too."""
    import discord.asset
    import discord.gateway
    import discord.http

    saved = (
        discord.http.Route.BASE,
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
        discord.asset.Asset.BASE,
    )
    discord.http.Route.BASE = f"{base_url}/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(base_url.replace("http", "ws", 1) + "/")
    discord.asset.Asset.BASE = base_url
    try:
        yield
    finally:
        (
            discord.http.Route.BASE,
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
            discord.asset.Asset.BASE,
        ) = saved


class FakeDiscord:
    """A fake Discord (REST + gateway + CDN) plus the controls a test needs to act as users and inspect."""

    def __init__(
        self,
        *,
        heartbeat_interval: float = 1.0,
        callback_deadline: float | None = None,
        bot_name: str = "promptjam",
    ) -> None:
        """heartbeat_interval: seconds sent in HELLO; callback_deadline: if set, callbacks later than this
        many seconds after dispatch get 404 Unknown interaction (Discord's is 3 s)."""
        self.store = Store(bot_name=bot_name)
        self.gateway = Gateway(self.store, heartbeat_interval=heartbeat_interval)
        self.store.dispatch = self.gateway.dispatch
        self.interactions: dict[str, FakeInteraction] = {}
        self.rest = Rest(self.store, self.gateway, self.interactions, callback_deadline=callback_deadline)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(middlewares=[self.rest.middleware], client_max_size=1024**3)
        app.add_routes(self.rest.routes())
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.store.cdn.base_url = self.base_url
        self.gateway.ws_url = f"ws://127.0.0.1:{self.port}/"

    async def stop(self) -> None:
        self.store.cdn.close()
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def bot_token(self) -> str:
        return self.store.bot_token

    @property
    def bot_user(self) -> FakeUser:
        return self.store.bot

    @property
    def application_id(self) -> int:
        return self.store.application_id

    def patch_discord_py(self) -> contextlib.AbstractContextManager[None]:
        """Point discord.py in this process at this fake; restore it on exit."""
        return point_discord_py_at(self.base_url)

    # -- world setup -----------------------------------------------------------------------------------------
    def add_guild(
        self, name: str = "guild", *, premium_tier: int = 0, filesize_limit: int | None = None
    ) -> FakeGuild:
        """A guild with @everyone and a bot role; the bot is a member. Add before the bot connects, or the
        bot only learns about it on its next IDENTIFY."""
        return self.store.add_guild(name, premium_tier=premium_tier, filesize_limit=filesize_limit)

    def add_text_channel(self, guild: FakeGuild, name: str = "general") -> FakeChannel:
        return self.store.add_channel(guild, name)

    def add_user(
        self, name: str, *, guild: FakeGuild | None = None, guilds: list[FakeGuild] | None = None
    ) -> FakeUser:
        """A human user; members of `guild` / `guilds` (default: every guild that exists now)."""
        user = self.store.add_user(name)
        targets = guilds if guilds is not None else ([guild] if guild else list(self.store.guilds.values()))
        for target in targets:
            self.store.add_member(target, user)
        return user

    def dm_channel(self, user: FakeUser) -> FakeChannel:
        return self.store.dm_channel(user)

    def attachment(
        self,
        filename: str,
        data: bytes,
        *,
        content_type: str | None = None,
        declared_size: int | None = None,
        fault: CdnFault | None = None,
    ) -> StoredAttachment:
        """A user's upload served by the fake CDN, for attachment options and user messages.
        `declared_size`: the size Discord reports (a lie when it differs); `fault`: how the CDN misbehaves."""
        attachment = self.store.cdn.store(0, filename, data, content_type)
        attachment.declared_size = declared_size
        if fault is not None:
            self.store.cdn.fault(attachment, fault)
        return attachment

    @property
    def cdn(self) -> Cdn:
        """The fake CDN: `fault(attachment, CdnFault(...) | None)`, `delete(attachment)`, `hits[id]`."""
        return self.store.cdn

    # -- waiting for the bot ---------------------------------------------------------------------------------
    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Until a bot session has identified and received READY plus every GUILD_CREATE."""
        await self.store.changes.wait_until(
            lambda: True if self.gateway.connected else None, timeout, lambda: "the bot to IDENTIFY"
        )

    async def wait_identifies(self, count: int, timeout: float = 10.0) -> None:
        """Until the fake has seen `count` IDENTIFYs in total (a restarted bot adds one)."""
        await self.store.changes.wait_until(
            lambda: True if self.gateway.identifies >= count and self.gateway.connected else None,
            timeout,
            lambda: f"{count} IDENTIFYs (seen {self.gateway.identifies})",
        )

    async def wait_disconnected(self, timeout: float = 10.0) -> None:
        await self.store.changes.wait_until(
            lambda: True if not self.gateway.connected else None, timeout, lambda: "the bot to disconnect"
        )

    async def wait_commands_synced(
        self, guild_id: int | None = None, *, after: float = 0.0, timeout: float = 10.0
    ) -> list[RegisteredCommand]:
        """Until the bot has PUT its command list (global, or for `guild_id`) at or after `after`."""

        def probe() -> list[RegisteredCommand] | None:
            for synced_guild, at in self.store.command_syncs:
                if synced_guild == guild_id and at >= after:
                    return self.commands(guild_id)
            return None

        return await self.store.changes.wait_until(
            probe, timeout, lambda: f"a command sync for guild {guild_id}"
        )

    def commands(self, guild_id: int | None = None) -> list[RegisteredCommand]:
        if guild_id is None:
            return list(self.store.global_commands)
        return list(self.store.guild_commands.get(guild_id, []))

    async def wait_message(
        self,
        channel: FakeChannel,
        predicate: Callable[[StoredMessage], bool] | None = None,
        timeout: float = 10.0,
    ) -> StoredMessage:
        """The first stored message in `channel` satisfying `predicate` (including ones already there)."""

        def probe() -> StoredMessage | None:
            for message in self.store.channel_messages(channel.id):
                if predicate is None or predicate(message):
                    return message
            return None

        return await self.store.changes.wait_until(probe, timeout, lambda: f"a message in #{channel.name}")

    # -- inspection ------------------------------------------------------------------------------------------
    @property
    def heartbeats(self) -> list[Heartbeat]:
        return list(self.gateway.heartbeats)

    @property
    def heartbeat_times(self) -> list[float]:
        """time.monotonic() of every heartbeat received, in order."""
        return [h.at for h in self.gateway.heartbeats]

    def max_heartbeat_gap(self, since: float = 0.0) -> float:
        """Longest gap between consecutive heartbeats received at or after `since` (0.0 if fewer than two)."""
        times = [t for t in self.heartbeat_times if t >= since]
        return max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)

    def channel_messages(self, channel: FakeChannel, *, include_deleted: bool = False) -> list[StoredMessage]:
        return self.store.channel_messages(channel.id, include_deleted=include_deleted)

    def message(self, message_id: int) -> StoredMessage:
        return self.store.messages[message_id]

    def channel(self, channel_id: int) -> FakeChannel:
        return self.store.channels[channel_id]

    @property
    def unhandled_requests(self) -> list[str]:
        """'METHOD path' of every request no route matched: a quick way to spot what the fake lacks."""
        return list(self.store.unhandled)

    # -- acting as users -------------------------------------------------------------------------------------
    async def _dispatch_interaction(
        self,
        kind: int,
        user: FakeUser,
        channel: FakeChannel,
        data: dict[str, Any],
        message: StoredMessage | None = None,
    ) -> FakeInteraction:
        if not self.gateway.connected:
            raise RuntimeError("the bot is not connected to the fake gateway")
        interaction_id, token, payload = build_interaction(
            self.store, type=kind, user=user, channel=channel, data=data, message=message
        )
        interaction = FakeInteraction(
            interaction_id,
            token,
            kind,
            user,
            channel.id,
            channel.guild_id,
            payload,
            self.store,
            source_message_id=message.id if message is not None else None,
        )
        self.interactions[token] = interaction
        interaction.dispatched_at = time.monotonic()
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return interaction

    @staticmethod
    def _split(name: str, group: str | None, subcommand: str | None) -> tuple[str, list[str]]:
        words = name.split()
        path = words[1:] + [p for p in (group, subcommand) if p]
        return words[0], path

    async def slash_command(
        self,
        user: FakeUser,
        channel: FakeChannel,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        group: str | None = None,
        subcommand: str | None = None,
    ) -> FakeInteraction:
        """Run `/name [group] [subcommand] options…`. `name` may hold the path too: "music create".
        Option values are typed from the synced schema; users/channels/roles are FakeUser/FakeChannel/
        FakeRole; attachments are `fd.attachment(...)` or a (filename, bytes) tuple."""
        root, path = self._split(name, group, subcommand)
        command = find_command(self.store, root, channel.guild_id, 1)
        data = build_command_data(self.store, command, path, options or {}, channel.id, channel.guild_id)
        return await self._dispatch_interaction(INTERACTION_COMMAND, user, channel, data)

    async def autocomplete(
        self,
        user: FakeUser,
        channel: FakeChannel,
        name: str,
        focused: str,
        value: str,
        options: dict[str, Any] | None = None,
        *,
        group: str | None = None,
        subcommand: str | None = None,
    ) -> FakeInteraction:
        """Ask for choices for option `focused` (typed so far: `value`); read `wait_response().choices`."""
        root, path = self._split(name, group, subcommand)
        command = find_command(self.store, root, channel.guild_id, 1)
        filled = {**(options or {}), focused: value}
        data = build_command_data(
            self.store, command, path, filled, channel.id, channel.guild_id, focused=focused
        )
        return await self._dispatch_interaction(INTERACTION_AUTOCOMPLETE, user, channel, data)

    async def message_command(self, user: FakeUser, name: str, target: StoredMessage) -> FakeInteraction:
        """Run a message context-menu command on `target` (resolved messages + attachments like Discord)."""
        channel = self.store.channel(target.channel_id)
        command = find_command(self.store, name, channel.guild_id, 3)
        message_payload = self.store.message_payload(target)
        data: dict[str, Any] = {
            "id": str(command.id),
            "name": name,
            "type": 3,
            "target_id": str(target.id),
            "resolved": {
                "messages": {str(target.id): message_payload},
                "attachments": {str(a.id): a.payload() for a in target.attachments},
            },
        }
        if command.guild_id is not None:
            data["guild_id"] = str(command.guild_id)
        return await self._dispatch_interaction(INTERACTION_COMMAND, user, channel, data)

    async def user_command(
        self, user: FakeUser, channel: FakeChannel, name: str, target: FakeUser
    ) -> FakeInteraction:
        """Run a user context-menu command on `target`."""
        command = find_command(self.store, name, channel.guild_id, 2)
        resolved: dict[str, Any] = {"users": {str(target.id): target.payload()}}
        if channel.guild_id is not None:
            guild = self.store.guild(channel.guild_id)
            resolved["members"] = {
                str(target.id): guild.member_payload(target, with_user=False, permissions=True)
            }
        data: dict[str, Any] = {"id": str(command.id), "name": name, "type": 2, "target_id": str(target.id)}
        data["resolved"] = resolved
        if command.guild_id is not None:
            data["guild_id"] = str(command.guild_id)
        return await self._dispatch_interaction(INTERACTION_COMMAND, user, channel, data)

    async def click_button(self, user: FakeUser, message: StoredMessage, custom_id: str) -> FakeInteraction:
        """Click the button `custom_id` on `message` (it must be on the message, like in the real client)."""
        found = [
            c
            for row in message.components
            for c in row.get("components", [])
            if c.get("custom_id") == custom_id
        ]
        if not found:
            ids = [c.get("custom_id") for row in message.components for c in row.get("components", [])]
            raise LookupError(f"message {message.id} has no component {custom_id!r}; it has {ids}")
        if found[0].get("disabled"):
            raise LookupError(f"component {custom_id!r} on message {message.id} is disabled")
        data = {"custom_id": custom_id, "component_type": int(found[0].get("type", 2))}
        return await self._dispatch_interaction(
            INTERACTION_COMPONENT, user, self.store.channel(message.channel_id), data, message
        )

    async def select(
        self, user: FakeUser, message: StoredMessage, custom_id: str, values: list[str]
    ) -> FakeInteraction:
        """Choose `values` in the select menu `custom_id` on `message`."""
        found = [
            c
            for row in message.components
            for c in row.get("components", [])
            if c.get("custom_id") == custom_id
        ]
        if not found:
            raise LookupError(f"message {message.id} has no select {custom_id!r}")
        data = {"custom_id": custom_id, "component_type": int(found[0].get("type", 3)), "values": values}
        return await self._dispatch_interaction(
            INTERACTION_COMPONENT, user, self.store.channel(message.channel_id), data, message
        )

    async def submit_modal(self, after: FakeInteraction, values: dict[str, str]) -> FakeInteraction:
        """Submit the modal the bot opened in answer to `after` (callback type 9), filling text inputs by
        custom_id."""
        modal = next((c.data for c in after.callbacks if c.type == 9), None)
        if modal is None:
            raise LookupError(f"interaction {after.id} was not answered with a modal")
        rows: list[dict[str, Any]] = []
        for row in modal.get("components", []):
            inner = []
            for component in row.get("components", []):
                cid = component.get("custom_id")
                inner.append(
                    {"type": component.get("type", 4), "custom_id": cid, "value": values.get(cid, "")}
                )
            rows.append({"type": 1, "components": inner})
        data = {"custom_id": modal["custom_id"], "components": rows}
        channel = self.store.channel(after.channel_id)
        message = self.store.messages.get(after.source_message_id) if after.source_message_id else None
        return await self._dispatch_interaction(INTERACTION_MODAL_SUBMIT, after.user, channel, data, message)

    async def user_message(
        self,
        user: FakeUser,
        channel: FakeChannel,
        content: str,
        *,
        attachments: list[StoredAttachment] | None = None,
    ) -> StoredMessage:
        """A user posts in `channel`; the bot gets MESSAGE_CREATE."""
        return await self.store.create_message(
            channel.id, user, {"content": content}, [], preset_attachments=list(attachments or [])
        )

    def expire_token(self, interaction: FakeInteraction) -> None:
        """From now on callbacks answer 404 Unknown interaction, webhook calls 401 Invalid Webhook Token."""
        interaction.expired = True

    # -- REST disruptions ------------------------------------------------------------------------------------
    def fail(
        self,
        method: str,
        path: str,
        *,
        status: int = 500,
        times: int | None = None,
        seconds: float | None = None,
        retry_after: float | None = None,
        drop: bool = False,
        uploads_only: bool = False,
    ) -> Fault:
        """Make matching API requests fail (see Fault): `status` for the next `times` of them, or for
        `seconds` from the first one failed, or until `fault.stop()`. `retry_after` (with status=429) sends
        Discord's rate-limit body and headers; `drop` cuts the connection while the body is being read.
        `path` is an fnmatch pattern after /api/v10, e.g. "/webhooks/*/messages/@original"."""
        fault = Fault(method, path, status, retry_after, drop, times, seconds, uploads_only)
        return self.rest.faults.add(fault)

    def request_times(self, method: str, path: str) -> list[float]:
        """time.monotonic() of every API request (failed or not) matching `method` and the fnmatch `path`."""
        return [
            at
            for at, m, p in self.rest.requests
            if m == method and fnmatch.fnmatchcase(p.removeprefix(API), path)
        ]

    # -- gateway disruptions ---------------------------------------------------------------------------------
    async def drop_connection(self, code: int = 4000) -> None:
        """Close the bot's websocket from the server; discord.py reconnects and RESUMEs."""
        await self.gateway.drop_connection(code)

    async def request_reconnect(self) -> None:
        await self.gateway.request_reconnect()

    async def invalidate_session(self) -> None:
        await self.gateway.invalidate_session()
