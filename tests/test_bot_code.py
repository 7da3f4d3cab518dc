"""The code backend through the bot: admin switch, happy path with the .py attached, repair, hostile code.

Real parts: the discord.py client against the fake Discord, the openai client against the fake
OpenAI-compatible server, and the real sandbox (whatever isolation this host offers: detected, never faked).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from PIL import Image

from services.audio.mp3 import decode_audio
from services.backends.code.sandbox.isolation import detect
from services.settings import Settings
from tests.conftest import running_bot
from tests.fakediscord import FakeChannel, FakeDiscord, FakeGuild, FakeInteraction, FakeUser, StoredMessage
from tests.fakeopenai import FakeOpenAI, Reply

GOOD = "from soundlib import sine, fade\n\ndef render(sr):\n    return fade(sine(220.0, 3.0, sr) * 0.5, sr)\n"
BROKEN = "from soundlib import sine\n\ndef render(sr):\n    return sine(220.0, 3.0, sr) * undefined_gain\n"
READS_ENV = (
    "from soundlib import sine\n\ndef render(sr):\n"
    "    data = open('/proc/1/environ', 'rb').read()\n    return sine(220.0, 1.0, sr)\n"
)
BUSY = "def render(sr):\n    x = 0\n    while True:\n        x += 1\n"

pytestmark = pytest.mark.skipif(not detect().isolation.strong, reason="this host offers no real sandbox")


def _done(m: StoredMessage) -> bool:
    return any(a.filename.endswith(".mp3") for a in m.attachments)


@dataclass
class World:
    fd: FakeDiscord
    guild: FakeGuild
    channel: FakeChannel
    alice: FakeUser
    llm: FakeOpenAI


@pytest.fixture
async def world(fake_discord: FakeDiscord, settings_factory: Callable[..., Settings]) -> AsyncIterator[World]:
    guild = fake_discord.add_guild("lab")
    channel = fake_discord.add_text_channel(guild, "code")
    alice = fake_discord.add_user("alice")
    with FakeOpenAI() as llm:
        settings = settings_factory(
            discord_guild_id=guild.id,
            openai_base_url=llm.base_url,
            code_wall_s=5.0,
            code_cpu_s=3,
            llm_repair_rounds=1,
            user_jobs_per_minute=100,
        )
        async with running_bot(fake_discord, settings):
            yield World(fake_discord, guild, channel, alice, llm)


async def test_off_until_an_admin_enables_it(world: World) -> None:
    fd = world.fd
    first = await fd.slash_command(world.alice, world.channel, "music code", {"prompt": "a hum"})
    answer = await first.wait_response(timeout=5)
    assert answer.ephemeral and "allow-code" in (answer.content or "")
    denied = await fd.slash_command(world.alice, world.channel, "music allow-code", {"enabled": True})
    assert "can manage this server" in ((await denied.wait_response(timeout=5)).content or "")
    assert world.llm.requests == []  # nothing reached the model


async def test_valid_module_repair_and_hostile_code(world: World) -> None:
    fd = world.fd
    on = await fd.slash_command(fd.store.owner, world.channel, "music allow-code", {"enabled": True})
    assert "now on" in ((await on.wait_response(timeout=5)).content or "")
    since = fd.heartbeats[-1].at if fd.heartbeats else 0.0

    world.llm.script(Reply.json({"title": "Low hum", "code": GOOD}))
    inter = await fd.slash_command(
        world.alice, world.channel, "music code", {"prompt": "a low hum", "duration": 3}
    )
    done = await inter.wait_original_edit(timeout=60, predicate=_done)
    names = [a.filename for a in done.attachments]
    assert "song.py" in names
    assert done.file("song.py").decode() == GOOD
    mp3 = next(n for n in names if n.endswith(".mp3"))
    assert abs(decode_audio(done.file(mp3)).duration - 3) <= 0.5

    # A module that raises: its traceback goes back to the model, which fixes it.
    world.llm.script(Reply.json({"title": "Hum", "code": BROKEN}), Reply.json({"title": "Hum", "code": GOOD}))
    again = await fd.slash_command(
        world.alice, world.channel, "music create", {"prompt": "hum", "backend": "code"}
    )
    await again.wait_original_edit(timeout=60, predicate=_done)
    assert "undefined_gain" in str(world.llm.completions()[-1].body)

    # Hostile code, twice (no repair helps): a clear message, and the bot kept its heartbeat.
    for hostile in (READS_ENV, BUSY):
        world.llm.script(*[Reply.json({"title": "x", "code": hostile})] * 2)
        bad = await fd.slash_command(
            world.alice, world.channel, "music code", {"prompt": "escape", "duration": 2}
        )
        failed = await bad.wait_original_edit(timeout=60, predicate=lambda m: "❌" in m.content)
        assert "error id" not in failed.content  # a clear reason, not an internal failure
    assert fd.max_heartbeat_gap(since=since) < 1.5


@pytest.mark.parametrize("attack", ["all"])
async def test_the_attack_suite_through_the_bot_keeps_it_healthy(world: World, attack: str) -> None:
    """Every hostile module of the sandbox suite, as the model's reply: each user gets a clear answer
    (no error id, nothing leaked), and the bot's heartbeat never stalls."""
    from tests.test_code_sandbox import ATTACKS, hostile

    fd = world.fd
    on = await fd.slash_command(fd.store.owner, world.channel, "music allow-code", {"enabled": True})
    await on.wait_response(timeout=5)
    since = fd.heartbeats[-1].at if fd.heartbeats else 0.0
    for name, body in sorted(ATTACKS.items()):
        world.llm.script(*[Reply.json({"title": name, "code": hostile(body)})] * 2)
        inter = await fd.slash_command(
            world.alice, world.channel, "music code", {"prompt": name, "duration": 1}
        )
        final = await inter.wait_original_edit(timeout=60, predicate=lambda m: "❌" in m.content or _done(m))
        assert not _done(final), name
        assert "error id" not in final.content, (name, final.content)
        assert "FOUND" not in final.content, name
    assert fd.max_heartbeat_gap(since=since) < 1.5


# --- the per-server switch holds on every path (services/policy.py) --------------------------------


async def _switch(fd: FakeDiscord, channel: FakeChannel, enabled: bool) -> None:
    inter = await fd.slash_command(fd.store.owner, channel, "music allow-code", {"enabled": enabled})
    assert ("now on" if enabled else "now off") in ((await inter.wait_response(timeout=5)).content or "")


async def _refused(inter: FakeInteraction) -> None:
    answer = await inter.wait_response(timeout=5)
    assert answer.ephemeral and "allow-code" in (answer.content or ""), answer.content


async def test_jams_follow_the_code_switch(world: World) -> None:
    fd = world.fd
    options = {"backend": "code", "bpm": 120, "bars": 2}
    await _refused(await fd.slash_command(world.alice, world.channel, "jam start", options))

    await _switch(fd, world.channel, True)
    start = await fd.slash_command(world.alice, world.channel, "jam start", options)
    assert (await start.wait_response(timeout=5)).type == 5
    await start.wait_original_edit(timeout=10, predicate=lambda m: "started a prompt jam" in m.content)
    thread = next(c for c in world.guild.channels if c.is_thread and c.parent_id == world.channel.id)
    card = await fd.wait_message(thread, predicate=lambda m: bool(m.embeds), timeout=10)
    added = await fd.slash_command(world.alice, thread, "jam add", {"prompt": "a low hum"})
    assert not (await added.wait_response(timeout=5)).ephemeral

    # Switched off after the jam started: neither /jam play nor its Play button runs code.
    await _switch(fd, world.channel, False)
    await _refused(await fd.slash_command(world.alice, thread, "jam play"))
    buttons = [c["custom_id"] for row in card.components for c in row["components"]]
    play = next(b for b in buttons if b.startswith("pj:jam:play:"))
    await _refused(await fd.click_button(world.alice, card, play))
    assert world.llm.requests == []  # nothing reached the model


async def test_buttons_on_an_old_code_piece_follow_the_switch(world: World) -> None:
    fd = world.fd
    await _switch(fd, world.channel, True)
    world.llm.script(Reply.json({"title": "Low hum", "code": GOOD}))
    inter = await fd.slash_command(
        world.alice, world.channel, "music code", {"prompt": "a hum", "duration": 3}
    )
    done = await inter.wait_original_edit(timeout=60, predicate=_done)
    asked = len(world.llm.requests)

    await _switch(fd, world.channel, False)
    for action in ("reroll", "extend", "variation"):
        await _refused(await fd.click_button(world.alice, done, f"pj:{action}:{inter.id}"))
    assert len(world.llm.requests) == asked  # no new code was asked for


async def test_a_listening_channel_cannot_reach_the_code_backend(
    fake_discord: FakeDiscord, settings_factory: Callable[..., Settings]
) -> None:
    fd = fake_discord
    guild = fd.add_guild("gallery")
    channel = fd.add_text_channel(guild, "pictures")
    alice = fd.add_user("alice")
    with FakeOpenAI() as llm:
        settings = settings_factory(
            discord_guild_id=guild.id,
            openai_base_url=llm.base_url,
            default_backend="code",  # what a listening channel uses, unasked
            message_content_intent=True,
        )
        async with running_bot(fd, settings):
            on = await fd.slash_command(fd.store.owner, channel, "music listen", {"enabled": True})
            await on.wait_response(timeout=5)
            buf = io.BytesIO()
            Image.new("RGB", (48, 32), (240, 180, 90)).save(buf, "PNG")
            picture = fd.attachment("dawn.png", buf.getvalue(), content_type="image/png")
            await fd.user_message(alice, channel, "sunrise", attachments=[picture])
            told = await fd.wait_message(channel, predicate=lambda m: "allow-code" in m.content, timeout=30)
            assert told.content.startswith("⚠️")
            assert fd.cdn.hits[picture.id] == 0  # refused before anything was fetched
        assert llm.requests == []
