"""What did not come from us, shown back through the real bot: never a secret, a live link, a ping,
a direction override, or a reply Discord refuses for its length.

Real parts: the discord.py client against the fake Discord (which enforces Discord's size limits),
the openai client against the fake OpenAI-compatible server, the real sandbox for the code backend.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from services.backends.code.sandbox.isolation import detect
from services.settings import Settings
from tests.conftest import running_bot
from tests.discord_text import assert_inert, embed_texts, live_masked_links
from tests.fakediscord import FakeChannel, FakeDiscord, FakeUser, StoredMessage
from tests.fakeopenai import FakeOpenAI, Reply

API_KEY = "sk-proj-TopSecret0123456789abcdef"
HOSTILE = (
    "[FREE NITRO](https://evil.example/a) [more](https://evil.example/b) @everyone "
    "<@123456789012345678> \u202ereversed\u202c"
)


@dataclass
class World:
    fd: FakeDiscord
    channel: FakeChannel
    alice: FakeUser
    llm: FakeOpenAI


@pytest.fixture
async def world(fake_discord: FakeDiscord, settings_factory: Callable[..., Settings]) -> AsyncIterator[World]:
    guild = fake_discord.add_guild("club")
    channel = fake_discord.add_text_channel(guild, "music")
    alice = fake_discord.add_user("alice")
    with FakeOpenAI() as llm:
        settings = settings_factory(
            discord_guild_id=guild.id,
            openai_base_url=llm.base_url,
            openai_api_key=API_KEY,
            llm_repair_rounds=0,
            code_wall_s=60.0,
            user_jobs_per_minute=100,
        )
        async with running_bot(fake_discord, settings):
            yield World(fake_discord, channel, alice, llm)


def _shown(message: StoredMessage) -> list[str]:
    """Every text of every revision of a message."""
    texts: list[str] = []
    for revision in message.history:
        texts.append(revision.content or "")
        texts += embed_texts(revision.embeds)
    return texts


async def test_a_401_that_echoes_the_api_key_is_shown_as_a_friendly_reason(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    world.llm.script(Reply(status=401, error=f"Incorrect API key provided: {API_KEY}. You can find your key"))
    inter = await world.fd.slash_command(world.alice, world.channel, "music notes", {"prompt": "a jig"})
    failed = await inter.wait_original_edit(timeout=60, predicate=lambda m: "❌" in m.content)
    assert not failed.ephemeral  # the public reply …
    for text in _shown(failed):
        assert API_KEY not in text and "Incorrect API key" not in text  # … never carries the server's text
    assert "API key" in failed.content and "OPENAI_API_KEY" in failed.content
    assert API_KEY not in caplog.text


async def test_option_values_are_echoed_escaped_and_cut_to_fit(world: World) -> None:
    fd = world.fd
    long = await fd.slash_command(
        world.alice, world.channel, "music create", {"prompt": "x", "backend": "b" * 6000}
    )
    answer = await long.wait_response(timeout=5)
    assert answer.ephemeral and answer.type == 4  # an answer, not "The application did not respond"
    content = answer.content or ""
    assert len(content) <= 2000 and "no backend called that" in content
    assert content.count("b" * 39) == 1 and "b" * 41 not in content  # echoed once, cut

    key = await fd.slash_command(
        world.alice, world.channel, "music create", {"prompt": "x", "key": "[k](https://e.example) @here"}
    )
    answer = await key.wait_response(timeout=5)
    assert answer.ephemeral and "I don't know the key" in (answer.content or "")
    assert_inert(answer.content or "")

    # The bot is fine afterwards.
    ok = await fd.slash_command(
        world.alice, world.channel, "music create", {"prompt": "calm piano", "duration": 2}
    )
    assert (await ok.wait_response(timeout=5)).type == 5


async def test_a_hostile_prompt_is_inert_in_progress_and_result(world: World) -> None:
    fd = world.fd
    inter = await fd.slash_command(
        world.alice, world.channel, "music create", {"prompt": f"lofi piano {HOSTILE}", "duration": 2}
    )
    done = await inter.wait_original_edit(
        timeout=90, predicate=lambda m: any(a.filename.endswith(".mp3") for a in m.attachments)
    )
    for text in _shown(done):
        assert_inert(text)
    assert "FREE NITRO" in done.embeds[0]["description"]  # shown, as text


async def test_jam_prompts_with_several_links_are_inert(world: World) -> None:
    fd = world.fd
    start = await fd.slash_command(world.alice, world.channel, "jam start", {"theme": HOSTILE[:90]})
    await start.wait_original_edit(timeout=10, predicate=lambda m: "started a prompt jam" in m.content)
    jam_channel = next(
        (c for c in fd.store.channels.values() if c.parent_id == world.channel.id), world.channel
    )
    add = await fd.slash_command(world.alice, jam_channel, "jam add", {"prompt": HOSTILE})
    added = await add.wait_response(timeout=5)
    assert not live_masked_links(added.content or "")
    assert_inert(added.content or "")
    for message in fd.channel_messages(jam_channel):
        for text in _shown(message):
            assert_inert(text)


@pytest.mark.skipif(not detect().isolation.strong, reason="this host offers no real sandbox")
async def test_text_raised_by_model_written_code_is_inert_in_the_public_failure(world: World) -> None:
    fd = world.fd
    on = await fd.slash_command(fd.store.owner, world.channel, "music allow-code", {"enabled": True})
    await on.wait_response(timeout=5)
    raising = f"def render(sr):\n    raise ValueError({HOSTILE!r})\n"
    world.llm.script(Reply.json({"title": "[t](https://evil.example)", "code": raising}))
    inter = await fd.slash_command(
        world.alice, world.channel, "music code", {"prompt": "boom", "duration": 1}
    )
    failed = await inter.wait_original_edit(timeout=60, predicate=lambda m: "❌" in m.content)
    assert "NITRO" in failed.content  # the reason is shown …
    for text in _shown(failed):
        assert_inert(text)  # … as text
