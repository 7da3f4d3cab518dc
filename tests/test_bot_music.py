"""The real bot, end to end, against the fake Discord: /music create, progress, result, buttons, errors.

Jobs run on the real styles backend with short durations; MP3s are decoded with the real ffmpeg.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from services.audio.mp3 import decode_audio
from services.settings import Settings
from tests.conftest import GatedExecutor, running_bot
from tests.fakediscord import FakeChannel, FakeDiscord, FakeGuild, FakeUser, StoredMessage

RESULT_TIMEOUT = 90


@dataclass
class World:
    fd: FakeDiscord
    guild: FakeGuild
    channel: FakeChannel
    alice: FakeUser
    bob: FakeUser
    settings: Settings


@pytest.fixture
async def world(fake_discord: FakeDiscord, settings_factory: Callable[..., Settings]) -> AsyncIterator[World]:
    guild = fake_discord.add_guild("studio", premium_tier=0)
    channel = fake_discord.add_text_channel(guild, "music")
    alice = fake_discord.add_user("alice")
    bob = fake_discord.add_user("bob")
    settings = settings_factory(discord_guild_id=guild.id)
    yield World(fake_discord, guild, channel, alice, bob, settings)


def _has_mp3(m: StoredMessage) -> bool:
    return any(a.filename.endswith(".mp3") for a in m.attachments)


def _mp3(m: StoredMessage) -> bytes:
    att = next(a for a in m.attachments if a.filename.endswith(".mp3"))
    return m.file(att.filename)


def _buttons(m: StoredMessage) -> list[str]:
    return [c["custom_id"] for row in m.components for c in row.get("components", [])]


async def test_create_defers_shows_progress_and_delivers_a_playable_mp3(world: World) -> None:
    fd = world.fd
    async with running_bot(fd, world.settings):
        names = {c.name for c in fd.commands(world.guild.id)}
        assert "music" in names
        music = next(c for c in fd.commands(world.guild.id) if c.name == "music").data
        assert {o["name"] for o in music["options"]} >= {"create", "backends", "queue", "cancel"}

        inter = await fd.slash_command(
            world.alice,
            world.channel,
            "music create",
            {"prompt": "melancholic lo-fi piano, 72 bpm, A minor", "duration": 8, "seed": 11},
        )
        response = await inter.wait_response(timeout=5)
        assert response.type == 5  # deferred: "thinking…"
        assert response.latency < 3.0

        done = await inter.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
        progress = [rev.content for rev in done.history if rev.content and "🎼" in rev.content]
        assert progress, "no progress edit was shown"
        assert any("step" in text or "Queued" in text for text in progress)

        audio = decode_audio(_mp3(done))
        assert audio.channels == 2
        assert abs(audio.duration - 8.0) <= 0.5
        assert done.attachments[0].filename == "melancholic-lo-fi-piano-72-bpm-a-minor.mp3"
        assert any(a.filename == "preview.png" for a in done.attachments)
        embed = done.embeds[0]
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert fields["Tempo"] == "72 bpm"
        assert fields["Key"] == "A minor"
        assert fields["Seed"] == "11"
        assert fields["Backend"] == "styles"
        assert "What I understood" in fields
        # what the reply claims was measured in the MP3's audio, not copied from the request
        assert "tempo 72 bpm → heard 72 ✓" in fields["Asked → heard"]
        assert "key A minor → heard A minor ✓" in fields["Asked → heard"]
        assert embed["image"]["url"] == "attachment://preview.png"
        assert _buttons(done) == [f"pj:{a}:{inter.id}" for a in ("reroll", "extend", "variation", "midi")]
        assert done.allowed_mentions is not None and done.allowed_mentions.get("parse") == []


async def test_buttons_reroll_variation_and_midi_round_trip(world: World) -> None:
    fd = world.fd
    async with running_bot(fd, world.settings):
        inter = await fd.slash_command(
            world.alice,
            world.channel,
            "music create",
            {"prompt": "upbeat 8-bit chiptune at 150 bpm", "duration": 5},
        )
        done = await inter.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
        first_seed = {f["name"]: f["value"] for f in done.embeds[0]["fields"]}["Seed"]

        midi_click = await fd.click_button(world.alice, done, f"pj:midi:{inter.id}")
        midi = await midi_click.wait_response(timeout=5)
        assert midi.ephemeral
        assert midi.files and midi.files[0].filename.endswith(".mid") and midi.files[0].data[:4] == b"MThd"

        reroll = await fd.click_button(world.bob, done, f"pj:reroll:{inter.id}")
        assert (await reroll.wait_response(timeout=5)).type == 5
        rerolled = await reroll.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
        fields = {f["name"]: f["value"] for f in rerolled.embeds[0]["fields"]}
        assert fields["Tempo"] == "150 bpm"
        assert fields["Seed"] != first_seed
        assert rerolled.id != done.id

        variation = await fd.click_button(world.alice, done, f"pj:variation:{inter.id}")
        varied = await variation.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
        vfields = {f["name"]: f["value"] for f in varied.embeds[0]["fields"]}
        assert (
            vfields["Tempo"] == "150 bpm"
            and vfields["Key"] == {f["name"]: f["value"] for f in done.embeds[0]["fields"]}["Key"]
        )


async def test_backends_lists_each_with_a_reason(world: World) -> None:
    fd = world.fd
    async with running_bot(fd, world.settings):
        inter = await fd.slash_command(world.alice, world.channel, "music backends")
        response = await inter.wait_response(timeout=5)
        assert response.ephemeral
        fields = {f["name"]: f["value"] for f in response.data["embeds"][0]["fields"]}
        assert any("styles" in name and "✅" in name for name in fields)
        riff = next(v for n, v in fields.items() if "riffusion" in n)
        assert "Not available" in riff

        auto = await fd.autocomplete(
            world.alice, world.channel, "music create", focused="backend", value="", options={"prompt": "x"}
        )
        choices = (await auto.wait_response(timeout=5)).choices
        assert [c["value"] for c in choices] == ["styles"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"prompt": "   "}, "prompt is empty"),
        ({"prompt": "x" * 4000}, "4,000 characters"),
        ({"prompt": "calm piano", "duration": 700}, "between 1 and"),
        ({"prompt": "calm piano", "backend": "kazoo"}, "no backend called"),
        ({"prompt": "calm piano", "backend": "riffusion"}, "riffusion"),
        ({"prompt": "calm piano", "key": "Z flat major"}, "don't know the key"),
    ],
)
async def test_bad_inputs_get_a_clear_private_answer(
    world: World, options: dict[str, Any], expected: str
) -> None:
    fd = world.fd
    async with running_bot(fd, world.settings):
        inter = await fd.slash_command(world.alice, world.channel, "music create", options)
        response = await inter.wait_response(timeout=5)
        assert response.type == 4 and response.ephemeral
        assert response.content is not None and expected in response.content
        # The bot keeps serving: a good request still works.
        ok = await fd.slash_command(
            world.bob, world.channel, "music create", {"prompt": "calm piano", "duration": 4}
        )
        await ok.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)


async def test_a_prompt_with_mentions_pings_nobody(world: World) -> None:
    fd = world.fd
    async with running_bot(fd, world.settings):
        prompt = "@everyone party techno <@123> **loud** @here"
        inter = await fd.slash_command(
            world.alice, world.channel, "music create", {"prompt": prompt, "duration": 4}
        )
        done = await inter.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
        assert done.allowed_mentions is not None and done.allowed_mentions.get("parse") == []
        assert not done.allowed_mentions.get("users") and not done.allowed_mentions.get("roles")
        text = done.embeds[0]["description"]
        assert "@everyone" not in text.replace("@\u200beveryone", "")
        assert "<@123>" not in text
        assert "\\*\\*loud\\*\\*" in text


async def test_cancel_a_queued_job_and_see_the_queue(
    world: World, settings_factory: Callable[..., Settings]
) -> None:
    fd = world.fd
    settings = settings_factory(discord_guild_id=world.guild.id, per_user_queued_jobs=5)
    executor = GatedExecutor(settings)
    async with running_bot(fd, settings, executor=executor):
        running = await fd.slash_command(
            world.alice, world.channel, "music create", {"prompt": "ambient drone"}
        )
        queued = await fd.slash_command(world.alice, world.channel, "music create", {"prompt": "second idea"})
        await queued.wait_response(timeout=5)
        await queued.wait_original_edit(timeout=10, predicate=lambda m: "Queued" in m.content)

        q = await fd.slash_command(world.alice, world.channel, "music queue")
        listing = (await q.wait_response(timeout=5)).content or ""
        assert f"`{queued.id}` · #1 in queue" in listing
        assert f"`{running.id}` · being made now" in listing

        auto = await fd.autocomplete(world.alice, world.channel, "music cancel", focused="job", value="")
        assert {str(queued.id), str(running.id)} <= {
            c["value"] for c in (await auto.wait_response(timeout=5)).choices
        }

        cancel = await fd.slash_command(world.alice, world.channel, "music cancel", {"job": str(queued.id)})
        answer = await cancel.wait_response(timeout=5)
        assert answer.ephemeral and "Cancelled" in (answer.content or "")
        cancelled = await queued.wait_original_edit(timeout=10, predicate=lambda m: "Cancelled" in m.content)
        assert not _has_mp3(cancelled)

        # Bob can't cancel Alice's job.
        bob_cancel = await fd.slash_command(
            world.bob, world.channel, "music cancel", {"job": str(running.id)}
        )
        assert "can't find" in ((await bob_cancel.wait_response(timeout=5)).content or "")

        # Cancelling the running one stops it too, and the queue is empty afterwards.
        stop = await fd.slash_command(world.alice, world.channel, "music cancel", {"job": str(running.id)})
        await stop.wait_response(timeout=5)
        await running.wait_original_edit(timeout=30, predicate=lambda m: "Cancelled" in m.content)
        empty = await fd.slash_command(world.alice, world.channel, "music queue")
        assert "nothing in the queue" in ((await empty.wait_response(timeout=5)).content or "")


async def test_queue_full_and_per_user_limits_are_explained(
    world: World, settings_factory: Callable[..., Settings]
) -> None:
    fd = world.fd
    settings = settings_factory(discord_guild_id=world.guild.id, queue_size=2, per_user_queued_jobs=1)
    executor = GatedExecutor(settings)
    async with running_bot(fd, settings, executor=executor):
        first = await fd.slash_command(world.alice, world.channel, "music create", {"prompt": "long drone"})
        assert (await first.wait_response(timeout=5)).type == 5
        again = await fd.slash_command(world.alice, world.channel, "music create", {"prompt": "more"})
        limited = await again.wait_response(timeout=5)
        assert limited.ephemeral and "already have 1" in (limited.content or "")

        second = await fd.slash_command(world.bob, world.channel, "music create", {"prompt": "bob's"})
        assert (await second.wait_response(timeout=5)).type == 5
        carol = fd.add_user("carol")
        full = await fd.slash_command(carol, world.channel, "music create", {"prompt": "carol's"})
        answer = await full.wait_response(timeout=5)
        assert answer.ephemeral and "queue is full" in (answer.content or "")

        executor.gate.set()  # the accepted ones still finish
        await first.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
        await second.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)


async def test_restart_delivers_queued_and_running_jobs(world: World) -> None:
    fd = world.fd
    executor = GatedExecutor(world.settings)
    async with running_bot(fd, world.settings, executor=executor):
        running = await fd.slash_command(
            world.alice, world.channel, "music create", {"prompt": "ambient drone", "duration": 12}
        )
        queued = await fd.slash_command(
            world.bob, world.channel, "music create", {"prompt": "folk tune", "duration": 5}
        )
        await running.wait_response(timeout=5)
        await queued.wait_response(timeout=5)
        await running.wait_original_edit(timeout=10, predicate=lambda m: "test gate" in m.content)
        await queued.wait_original_edit(timeout=10, predicate=lambda m: "Queued" in m.content)
        assert executor.entered == [str(running.id)]
    # The bot is down with one job running and one queued; bring it back on the same database.
    async with running_bot(fd, world.settings):
        first = await running.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
        second = await queued.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
        assert abs(decode_audio(_mp3(first)).duration - 12) <= 0.5
        assert abs(decode_audio(_mp3(second)).duration - 5) <= 0.5
        # Old buttons still work after the restart (persistent, job id in custom_id).
        click = await fd.click_button(world.alice, second, f"pj:midi:{queued.id}")
        assert (await click.wait_response(timeout=5)).files
    # Delivered once each.
    assert sum(1 for m in fd.channel_messages(world.channel) if _has_mp3(m)) == 2


async def test_expired_token_posts_in_the_channel_mentioning_only_the_requester(world: World) -> None:
    fd = world.fd
    async with running_bot(fd, world.settings):
        inter = await fd.slash_command(
            world.alice, world.channel, "music create", {"prompt": "jazz @everyone", "duration": 4}
        )
        await inter.wait_response(timeout=5)
        fd.expire_token(inter)
        message = await fd.wait_message(world.channel, predicate=_has_mp3, timeout=RESULT_TIMEOUT)
        assert f"<@{world.alice.id}>" in message.content
        assert message.allowed_mentions is not None
        assert message.allowed_mentions.get("parse") == []
        assert [str(u) for u in message.allowed_mentions.get("users", [])] == [str(world.alice.id)]


async def test_upload_fits_a_small_guild_limit(
    fake_discord: FakeDiscord, settings_factory: Callable[..., Settings]
) -> None:
    fd = fake_discord
    guild = fd.add_guild("tiny", filesize_limit=400 * 1024)
    channel = fd.add_text_channel(guild, "music")
    alice = fd.add_user("alice")
    settings = settings_factory(discord_guild_id=guild.id)
    async with running_bot(fd, settings):
        inter = await fd.slash_command(
            alice, channel, "music create", {"prompt": "house music", "duration": 60}
        )
        done = await inter.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
        total = sum(len(done.file(a.filename)) for a in done.attachments)
        assert total <= 400 * 1024
        assert abs(decode_audio(_mp3(done)).duration - 60) <= 0.5  # a lower bitrate, not a shorter piece
