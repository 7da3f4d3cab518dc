"""The code backend through the bot: admin switch, happy path with the .py attached, repair, hostile code.

Real parts: the discord.py client against the fake Discord, the openai client against the fake
OpenAI-compatible server, and the real sandbox (whatever isolation this host offers: detected, never faked).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from services.audio.mp3 import decode_audio
from services.backends.code.sandbox.isolation import detect
from services.settings import Settings
from tests.conftest import running_bot
from tests.fakediscord import FakeChannel, FakeDiscord, FakeUser, StoredMessage
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
            yield World(fake_discord, channel, alice, llm)


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
