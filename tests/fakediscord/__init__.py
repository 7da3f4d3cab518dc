"""A fake Discord (REST + gateway + CDN) on loopback, driven by the real discord.py client.

Why: the bot's hard parts (deferring in time, followups with files, persistent views across restarts, expired
tokens, a loop that must keep heartbeating) only show up against a server that behaves like Discord. This one
runs in the test's event loop on 127.0.0.1 with a random port and keeps its state across bot restarts.

Usage::

    from tests.fakediscord import FakeDiscord

    async with FakeDiscord(heartbeat_interval=1.0) as fd:
        guild = fd.add_guild("g", premium_tier=0)          # bot is a member; tier sets the upload limit
        channel = fd.add_text_channel(guild, "general")
        alice = fd.add_user("alice")                        # member of every guild that exists
        with fd.patch_discord_py():                         # Route.BASE, DEFAULT_GATEWAY, Asset.BASE → fake
            bot = MyBot(intents=discord.Intents.default())
            task = asyncio.create_task(bot.start(fd.bot_token))
            await fd.wait_ready()                           # IDENTIFY → READY + GUILD_CREATE sent
            await fd.wait_commands_synced()                 # or guild_id=guild.id
            inter = await fd.slash_command(alice, channel, "music create", {"prompt": "x", "duration": 10})
            resp = await inter.wait_response(timeout=5)     # CallbackRecord: .type (5 = deferred), .latency
            msg = await inter.wait_followup(timeout=60, predicate=lambda m: bool(m.attachments))
            assert msg.file("song.mp3")[:3] == b"ID3"
            click = await fd.click_button(alice, msg, "reroll")
            fd.expire_token(inter)                          # webhooks now 401 (code 50027)
            fault = fd.fail("PATCH", "/webhooks/*", status=503, seconds=3)   # Discord having a bad minute
            fd.fail("POST", "/channels/*/messages", status=429, retry_after=0.5, times=2)
            fd.fail("PATCH", "/webhooks/*", drop=True, uploads_only=True, times=1)  # line cut mid-upload
            fault.hits, fault.stop(), fd.request_times("PATCH", "/webhooks/*")
            bad = fd.attachment("a.png", png, fault=CdnFault(stall_after=0))  # or status=503, drop_after=…
            fd.max_heartbeat_gap(), fd.channel_messages(channel)
            await bot.close(); await task

Behaviour worth knowing
- Commands must be synced before a test can invoke them; options are typed from the synced schema.
- A type-5 (deferred) callback creates a "loading" @original; the first followup *replaces* it (Discord does
  this), later followups are new messages. Ephemeral messages get no gateway events.
- Errors follow Discord: unknown interaction 404/10062, acknowledged twice 400/40060, expired webhook token
  401/50027 (discord.py raises plain HTTPException), upload over the guild's limit 413/40005.
- discord.py waits `guild_ready_timeout` (2 s default) after the last GUILD_CREATE before `on_ready`; bots in
  tests should pass a small value. Interactions work before that.
- Anything the fake does not route answers 404 and is listed in `fd.unhandled_requests`.
- Faults (`fd.fail`, see faults.py) match a method and an fnmatch pattern on the path after /api/v10 and are
  checked before routing and auth, first match wins: a status for the next `times` requests, for `seconds`
  from the first failed one, or until `fault.stop()`. A 429 carries `retry_after` in the body, Retry-After
  and `Via` (without `Via` discord.py would raise instead of waiting); `drop` reads part of the body and
  closes the socket (the client sees a connection reset). `uploads_only` matches multipart requests only.
  Remember discord.py retries 5xx itself, sleeping 1, 3, 5, 7, 9 s between five tries.
- `POST /channels/{id}/messages` honours `nonce` + `enforce_nonce` (discord.py sends both): the same nonce
  from the same author within five minutes returns the first message instead of posting again.
"""

from .cdn import CdnFault
from .faults import Fault
from .gateway import Heartbeat
from .interactions import FakeInteraction
from .server import FakeDiscord, point_discord_py_at
from .state import (
    CallbackRecord,
    FakeChannel,
    FakeGuild,
    FakeRole,
    FakeUser,
    MessageRevision,
    StoredAttachment,
    StoredMessage,
)
from .store import ApiError, RegisteredCommand

__all__ = [
    "ApiError",
    "CallbackRecord",
    "Cdn",
    "CdnFault",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeInteraction",
    "FakeRole",
    "FakeUser",
    "Fault",
    "Heartbeat",
    "MessageRevision",
    "RegisteredCommand",
    "StoredAttachment",
    "StoredMessage",
    "point_discord_py_at",
]
