"""REST routes of the fake Discord (/api/v10/...), answering with the shapes and errors discord.py expects.

Error bodies are Discord's {"message", "code"} JSON with the real status codes, because discord.py maps them
to exceptions (404 → NotFound, 403 → Forbidden, 401 on a webhook → plain HTTPException) and the bot's error
paths depend on which one it gets.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .cdn import UploadedPart, read_body
from .faults import Faults
from .gateway import Gateway
from .interactions import INTERACTION_COMMAND, INTERACTION_COMPONENT, FakeInteraction
from .limits import LimitExceeded, check_choices
from .state import JSON, MESSAGE_FLAG_EPHEMERAL, MESSAGE_FLAG_LOADING, CallbackRecord, StoredMessage
from .store import ApiError, RegisteredCommand, Store

API = "/api/v10"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Callback types (InteractionResponseType).
CB_MESSAGE, CB_DEFERRED_MESSAGE, CB_DEFERRED_UPDATE, CB_UPDATE, CB_AUTOCOMPLETE, CB_MODAL = 4, 5, 6, 7, 8, 9


def json_response(data: Any, status: int = 200) -> web.Response:
    """discord.py decodes JSON only when Content-Type is exactly application/json (no charset suffix)."""
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"}
    )


def error_response(status: int, code: int, message: str) -> web.Response:
    return json_response({"message": message, "code": code}, status=status)


class Rest:
    """Route handlers bound to one Store and Gateway."""

    def __init__(
        self,
        store: Store,
        gateway: Gateway,
        interactions: dict[str, FakeInteraction],
        *,
        callback_deadline: float | None,
    ) -> None:
        self.store = store
        self.gateway = gateway
        self.interactions = interactions  # by token
        self.callback_deadline = callback_deadline
        self.requests: list[tuple[float, str, str]] = []  # (time.monotonic(), method, path) of every API call
        self.faults = Faults()  # injected failures, checked before routing (see faults.py)

    # -- plumbing --------------------------------------------------------------------------------------------
    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(API):
            at = time.monotonic()
            self.requests.append((at, request.method, request.path))
            failed = await self.faults.answer(request, request.path.removeprefix(API), at)
            if failed is not None:
                self.store.changes.notify()  # waiters may be counting a fault's hits
                return failed
            open_route = request.path.startswith(
                (f"{API}/webhooks/", f"{API}/interactions/", f"{API}/gateway")
            )
            if not open_route and request.headers.get("Authorization") != f"Bot {self.store.bot_token}":
                return error_response(401, 0, "401: Unauthorized")
        try:
            return await handler(request)
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message)
        except web.HTTPException:
            raise
        except Exception as exc:
            # A bug in the fake, not in the bot: answer 400 (discord.py retries 5xx with long sleeps) and
            # keep it where waiters' timeout messages show it.
            self.store.unhandled.append(f"ERROR {request.method} {request.path}: {exc!r}")
            self.store.changes.notify()
            return error_response(400, 0, f"fake discord error: {exc!r}")

    async def unhandled(self, request: web.Request) -> web.Response:
        self.store.unhandled.append(f"{request.method} {request.path}")
        self.store.changes.notify()
        return error_response(404, 0, "404: Not Found")

    def routes(self) -> list[web.RouteDef]:
        r: list[tuple[str, str, Handler]] = [
            ("GET", "/gateway", self.get_gateway),
            ("GET", "/gateway/bot", self.get_gateway),
            ("GET", "/users/@me", self.get_me),
            ("GET", "/users/{user_id}", self.get_user),
            ("POST", "/users/@me/channels", self.create_dm),
            ("GET", "/oauth2/applications/@me", self.get_application),
            ("GET", "/applications/@me", self.get_application),
            ("GET", "/applications/{app_id}/commands", self.list_commands),
            ("PUT", "/applications/{app_id}/commands", self.put_commands),
            ("POST", "/applications/{app_id}/commands", self.post_command),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self.list_commands),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self.put_commands),
            ("POST", "/applications/{app_id}/guilds/{guild_id}/commands", self.post_command),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self.callback),
            ("POST", "/webhooks/{app_id}/{token}", self.create_followup),
            ("GET", "/webhooks/{app_id}/{token}/messages/{message_id}", self.get_webhook_message),
            ("PATCH", "/webhooks/{app_id}/{token}/messages/{message_id}", self.edit_webhook_message),
            ("DELETE", "/webhooks/{app_id}/{token}/messages/{message_id}", self.delete_webhook_message),
            ("GET", "/channels/{channel_id}", self.get_channel),
            ("GET", "/channels/{channel_id}/messages", self.list_messages),
            ("POST", "/channels/{channel_id}/messages", self.create_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message),
            ("POST", "/channels/{channel_id}/typing", self.no_content),
            ("POST", "/channels/{channel_id}/threads", self.create_thread),
            ("POST", "/channels/{channel_id}/messages/{message_id}/threads", self.create_thread),
            ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self.add_reaction),
            (
                "DELETE",
                "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
                self.remove_reaction,
            ),
            ("GET", "/guilds/{guild_id}", self.get_guild),
            ("GET", "/guilds/{guild_id}/channels", self.get_guild_channels),
            ("GET", "/guilds/{guild_id}/roles", self.get_roles),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member),
        ]
        defs = [web.route(method, API + path, handler) for method, path, handler in r]
        defs.append(web.get("/attachments/{channel_id}/{attachment_id}/{filename}", self.store.cdn.handle))
        defs.append(web.get("/", self.gateway.handle))
        defs.append(web.route("*", "/{tail:.*}", self.unhandled))
        return defs

    @staticmethod
    def _id(request: web.Request, key: str) -> int:
        try:
            return int(request.match_info[key])
        except ValueError:
            raise ApiError(404, 0, f"404: bad {key}") from None

    # -- gateway, users, application -------------------------------------------------------------------------
    async def get_gateway(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        return json_response({"url": self.gateway.ws_url, "shards": 1, "session_start_limit": limit})

    async def get_me(self, request: web.Request) -> web.Response:
        return json_response(self.store.bot.payload())

    async def get_user(self, request: web.Request) -> web.Response:
        return json_response(self.store.user(self._id(request, "user_id")).payload())

    async def create_dm(self, request: web.Request) -> web.Response:
        payload, _ = await read_body(request)
        user = self.store.user(int(payload["recipient_id"]))
        return json_response(self.store.dm_channel(user).payload(self.store.users))

    async def get_application(self, request: web.Request) -> web.Response:
        store = self.store
        return json_response(
            {
                "id": str(store.application_id),
                "name": store.bot.name,
                "icon": None,
                "description": "",
                "summary": "",
                "rpc_origins": [],
                "bot_public": True,
                "bot_require_code_grant": False,
                "bot": store.bot.payload(),
                "owner": store.owner.payload(),
                "team": None,
                "verify_key": "0" * 64,
                "flags": 0,
                "tags": [],
                "interactions_endpoint_url": None,
                "redirect_uris": [],
                "approximate_guild_count": len(store.guilds),
            }
        )

    # -- application commands --------------------------------------------------------------------------------
    def _command_pool(self, request: web.Request) -> tuple[int | None, list[RegisteredCommand]]:
        if self._id(request, "app_id") != self.store.application_id:
            raise ApiError(403, 50001, "Missing Access")
        if "guild_id" in request.match_info:
            guild_id = self._id(request, "guild_id")
            self.store.guild(guild_id)
            return guild_id, self.store.guild_commands.setdefault(guild_id, [])
        return None, self.store.global_commands

    def _register(self, guild_id: int | None, pool: list[RegisteredCommand], data: JSON) -> RegisteredCommand:
        """Keep a command's id across syncs when name and type match, as Discord does."""
        kind = int(data.get("type", 1))
        previous = next((c for c in pool if c.name == data["name"] and c.type == kind), None)
        command_id = previous.id if previous else self.store.ids.next()
        full: JSON = {
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "nsfw": False,
            **data,
            "id": str(command_id),
            "application_id": str(self.store.application_id),
            "type": kind,
            "version": str(self.store.ids.next()),
        }
        if guild_id is not None:
            full["guild_id"] = str(guild_id)
        return RegisteredCommand(command_id, guild_id, full)

    async def list_commands(self, request: web.Request) -> web.Response:
        _, pool = self._command_pool(request)
        return json_response([c.data for c in pool])

    async def put_commands(self, request: web.Request) -> web.Response:
        guild_id, pool = self._command_pool(request)
        body, _ = await read_body(request)
        commands = [self._register(guild_id, pool, item) for item in body.get("__list__", [])]
        pool[:] = commands
        self.store.command_syncs.append((guild_id, time.monotonic()))
        self.store.changes.notify()
        return json_response([c.data for c in commands])

    async def post_command(self, request: web.Request) -> web.Response:
        guild_id, pool = self._command_pool(request)
        body, _ = await read_body(request)
        command = self._register(guild_id, pool, body)
        pool[:] = [c for c in pool if c.id != command.id] + [command]
        self.store.changes.notify()
        return json_response(command.data, status=201)

    # -- interaction callbacks -------------------------------------------------------------------------------
    def _interaction(self, token: str) -> FakeInteraction:
        interaction = self.interactions.get(token)
        if interaction is None:
            raise ApiError(404, 10062, "Unknown interaction")
        return interaction

    async def callback(self, request: web.Request) -> web.Response:
        received = time.monotonic()
        interaction = self._interaction(request.match_info["token"])
        if str(interaction.id) != request.match_info["interaction_id"] or interaction.expired:
            raise ApiError(404, 10062, "Unknown interaction")
        if (
            self.callback_deadline is not None
            and received - interaction.dispatched_at > self.callback_deadline
        ):
            raise ApiError(404, 10062, "Unknown interaction")
        if interaction.callbacks:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        body, parts = await read_body(request)
        kind = int(body["type"])
        data: JSON = body.get("data") or {}
        message = await self._apply_callback(interaction, kind, data, parts)
        files = list(message.attachments) if message is not None and kind in (CB_MESSAGE, CB_UPDATE) else []
        record = CallbackRecord(kind, data, received, received - interaction.dispatched_at, files)
        interaction.callbacks.append(record)
        self.store.changes.notify()
        if request.query.get("with_response") not in ("1", "true", "True"):
            return web.Response(status=204)
        meta: JSON = {"id": str(interaction.id), "type": interaction.type}
        if message is not None:
            meta.update(
                response_message_id=str(message.id),
                response_message_loading=bool(message.flags & MESSAGE_FLAG_LOADING),
                response_message_ephemeral=message.ephemeral,
            )
        result: JSON = {"interaction": meta}
        if kind in (CB_MESSAGE, CB_UPDATE) and message is not None:
            result["resource"] = {"type": kind, "message": self.store.message_payload(message)}
        elif kind in (CB_DEFERRED_MESSAGE, CB_DEFERRED_UPDATE, CB_AUTOCOMPLETE, CB_MODAL):
            result["resource"] = {"type": kind}
        return json_response(result)

    async def _apply_callback(
        self, interaction: FakeInteraction, kind: int, data: JSON, parts: list[UploadedPart]
    ) -> StoredMessage | None:
        store = self.store
        message_type = 0
        if interaction.type == INTERACTION_COMMAND:
            message_type = 23 if int(interaction.payload["data"].get("type", 1)) != 1 else 20
        if kind == CB_MESSAGE:
            message = await store.create_message(
                interaction.channel_id,
                store.bot,
                data,
                parts,
                type=message_type,
                webhook_id=store.application_id,
                interaction_id=interaction.id,
            )
        elif kind == CB_DEFERRED_MESSAGE:
            flags = MESSAGE_FLAG_LOADING | (int(data.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL)
            message = await store.create_message(
                interaction.channel_id,
                store.bot,
                {"content": "", "flags": flags},
                [],
                type=message_type,
                webhook_id=store.application_id,
                interaction_id=interaction.id,
            )
        elif kind in (CB_DEFERRED_UPDATE, CB_UPDATE):
            if interaction.type != INTERACTION_COMPONENT and interaction.source_message_id is None:
                raise ApiError(400, 40043, "Interaction type does not support this response type")
            assert interaction.source_message_id is not None
            message = store.message(None, interaction.source_message_id)
            if kind == CB_UPDATE:
                await store.edit_message(message, data, parts)
        elif kind in (CB_AUTOCOMPLETE, CB_MODAL):
            if kind == CB_AUTOCOMPLETE:
                try:
                    check_choices(data)
                except LimitExceeded as exc:
                    raise ApiError(400, 50035, f"Invalid Form Body: {exc}") from None
            return None
        else:
            raise ApiError(400, 50035, f"Invalid Form Body: unknown callback type {kind}")
        interaction.original_message_id = message.id
        return message

    # -- webhooks (followups) --------------------------------------------------------------------------------
    def _webhook_interaction(self, request: web.Request) -> FakeInteraction:
        token = request.match_info["token"]
        interaction = self.interactions.get(token)
        if self._id(request, "app_id") != self.store.application_id or interaction is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        if interaction.expired:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        if not interaction.callbacks:
            raise ApiError(404, 10015, "Unknown Webhook")
        return interaction

    def _webhook_message(self, request: web.Request, interaction: FakeInteraction) -> StoredMessage:
        ident = request.match_info["message_id"]
        if ident == "@original":
            if interaction.original_message_id is None:
                raise ApiError(404, 10008, "Unknown Message")
            return self.store.message(None, interaction.original_message_id)
        message_id = self._id(request, "message_id")
        if message_id != interaction.original_message_id and message_id not in interaction.followup_ids:
            raise ApiError(404, 10008, "Unknown Message")
        return self.store.message(None, message_id)

    async def create_followup(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        body, parts = await read_body(request)
        original = interaction.original
        if original is not None and original.flags & MESSAGE_FLAG_LOADING and not interaction.followup_ids:
            # Discord turns the first followup after a deferred (type 5) response into the response itself;
            # its ephemerality was decided by the defer.
            body = {k: v for k, v in body.items() if k != "flags"}
            message = await self.store.edit_message(original, body, parts)
        else:
            message = await self.store.create_message(
                interaction.channel_id,
                self.store.bot,
                body,
                parts,
                type=0,
                webhook_id=self.store.application_id,
                interaction_id=interaction.id,
            )
        interaction.followup_ids.append(message.id)
        self.store.changes.notify()
        return json_response(self.store.message_payload(message))

    async def get_webhook_message(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        return json_response(self.store.message_payload(self._webhook_message(request, interaction)))

    async def edit_webhook_message(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        message = self._webhook_message(request, interaction)
        body, parts = await read_body(request)
        await self.store.edit_message(message, body, parts)
        return json_response(self.store.message_payload(message))

    async def delete_webhook_message(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        await self.store.delete_message(self._webhook_message(request, interaction))
        return web.Response(status=204)

    # -- channels and messages -------------------------------------------------------------------------------
    async def get_channel(self, request: web.Request) -> web.Response:
        return json_response(self.store.channel(self._id(request, "channel_id")).payload(self.store.users))

    async def list_messages(self, request: web.Request) -> web.Response:
        channel = self.store.channel(self._id(request, "channel_id"))
        messages = sorted(self.store.channel_messages(channel.id), key=lambda m: m.id, reverse=True)
        messages = [m for m in messages if not m.ephemeral]
        if "before" in request.query:
            messages = [m for m in messages if m.id < int(request.query["before"])]
        if "after" in request.query:
            messages = [m for m in messages if m.id > int(request.query["after"])]
        limit = int(request.query.get("limit", 50))
        return json_response([self.store.message_payload(m) for m in messages[:limit]])

    async def create_message(self, request: web.Request) -> web.Response:
        channel = self.store.channel(self._id(request, "channel_id"))
        body, parts = await read_body(request)
        if not (body.get("content") or body.get("embeds") or body.get("components") or parts):
            raise ApiError(400, 50006, "Cannot send an empty message")
        if body.get("enforce_nonce") and body.get("nonce") is not None:
            already = self.store.find_by_nonce(channel.id, self.store.bot, str(body["nonce"]))
            if already is not None:  # a retried send: Discord hands back the first one
                return json_response(self.store.message_payload(already))
        message_type = 19 if body.get("message_reference") else 0
        message = await self.store.create_message(channel.id, self.store.bot, body, parts, type=message_type)
        return json_response(self.store.message_payload(message))

    async def get_message(self, request: web.Request) -> web.Response:
        message = self.store.message(self._id(request, "channel_id"), self._id(request, "message_id"))
        if message.ephemeral:
            raise ApiError(404, 10008, "Unknown Message")
        return json_response(self.store.message_payload(message))

    async def edit_message(self, request: web.Request) -> web.Response:
        message = self.store.message(self._id(request, "channel_id"), self._id(request, "message_id"))
        if message.author.id != self.store.bot.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        body, parts = await read_body(request)
        await self.store.edit_message(message, body, parts)
        return json_response(self.store.message_payload(message))

    async def delete_message(self, request: web.Request) -> web.Response:
        message = self.store.message(self._id(request, "channel_id"), self._id(request, "message_id"))
        await self.store.delete_message(message)
        return web.Response(status=204)

    async def no_content(self, request: web.Request) -> web.Response:
        self.store.channel(self._id(request, "channel_id"))
        return web.Response(status=204)

    async def create_thread(self, request: web.Request) -> web.Response:
        parent = self.store.channel(self._id(request, "channel_id"))
        body, _ = await read_body(request)
        thread_id: int | None = None
        kind = int(body.get("type") or 11)
        if "message_id" in request.match_info:
            thread_id = self.store.message(parent.id, self._id(request, "message_id")).id
            kind = 11
        thread = await self.store.create_thread(parent, str(body["name"]), type=kind, thread_id=thread_id)
        return json_response(thread.payload(), status=201)

    async def add_reaction(self, request: web.Request) -> web.Response:
        message = self.store.message(self._id(request, "channel_id"), self._id(request, "message_id"))
        message.reactions.setdefault(request.match_info["emoji"], set()).add(self.store.bot.id)
        self.store.changes.notify()
        return web.Response(status=204)

    async def remove_reaction(self, request: web.Request) -> web.Response:
        message = self.store.message(self._id(request, "channel_id"), self._id(request, "message_id"))
        message.reactions.get(request.match_info["emoji"], set()).discard(self.store.bot.id)
        self.store.changes.notify()
        return web.Response(status=204)

    # -- guilds ----------------------------------------------------------------------------------------------
    async def get_guild(self, request: web.Request) -> web.Response:
        guild = self.store.guild(self._id(request, "guild_id"))
        data = guild.payload(self.store.users)
        for key in ("channels", "threads", "members", "voice_states", "presences", "joined_at", "large"):
            data.pop(key, None)
        return json_response(data)

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        guild = self.store.guild(self._id(request, "guild_id"))
        return json_response([c.payload() for c in guild.channels if not c.is_thread])

    async def get_roles(self, request: web.Request) -> web.Response:
        guild = self.store.guild(self._id(request, "guild_id"))
        return json_response([r.payload() for r in guild.roles])

    async def get_member(self, request: web.Request) -> web.Response:
        guild = self.store.guild(self._id(request, "guild_id"))
        user_id = self._id(request, "user_id")
        if user_id not in guild.member_ids:
            raise ApiError(404, 10007, "Unknown Member")
        return json_response(guild.member_payload(self.store.user(user_id)))
