"""Prompt jams end to end: the real bot against the fake Discord, three users, a restart in the middle.

Segments are 2 bars at 120 bpm (4 s) rendered by the real styles backend; MP3s are decoded with ffmpeg.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from services.audio.mp3 import decode_audio
from services.jams.timing import clock, piece_length_s, segment_spans
from services.settings import Settings
from tests.conftest import running_bot
from tests.fakediscord import FakeChannel, FakeDiscord, FakeGuild, FakeInteraction, FakeUser, StoredMessage

RESULT_TIMEOUT = 90
SEGMENT_S = 4.0  # 2 bars of 4/4 at 120 bpm
CROSSFADE_S = 0.5  # one beat at 120 bpm


@dataclass
class World:
    fd: FakeDiscord
    guild: FakeGuild
    channel: FakeChannel
    alice: FakeUser
    bob: FakeUser
    carol: FakeUser
    settings: Settings


@pytest.fixture
async def world(fake_discord: FakeDiscord, settings_factory: Callable[..., Settings]) -> AsyncIterator[World]:
    guild = fake_discord.add_guild("studio")
    channel = fake_discord.add_text_channel(guild, "jams")
    alice = fake_discord.add_user("alice")
    bob = fake_discord.add_user("bob")
    carol = fake_discord.add_user("carol")
    settings = settings_factory(
        discord_guild_id=guild.id, embeddings_enabled=False, jam_max_per_user=3, jam_skip_threshold=2
    )
    yield World(fake_discord, guild, channel, alice, bob, carol, settings)


def _has_mp3(m: StoredMessage) -> bool:
    return any(a.filename.endswith(".mp3") for a in m.attachments)


def _mp3(m: StoredMessage) -> bytes:
    att = next(a for a in m.attachments if a.filename.endswith(".mp3"))
    return m.file(att.filename)


def _buttons(m: StoredMessage) -> list[str]:
    return [c["custom_id"] for row in m.components for c in row.get("components", [])]


def _fields(m: StoredMessage) -> dict[str, str]:
    return {f["name"]: f["value"] for f in m.embeds[0]["fields"]}


async def _eventually(probe: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def _start_jam(w: World, user: FakeUser, options: dict[str, Any]) -> tuple[FakeChannel, StoredMessage]:
    """/jam start in the channel → the thread it opened and the card posted there."""
    inter = await w.fd.slash_command(user, w.channel, "jam start", options)
    assert (await inter.wait_response(timeout=5)).type == 5
    await inter.wait_original_edit(timeout=10, predicate=lambda m: "started a prompt jam" in m.content)
    thread = next(c for c in w.guild.channels if c.is_thread and c.parent_id == w.channel.id)
    card = await w.fd.wait_message(thread, predicate=lambda m: bool(m.embeds), timeout=10)
    return thread, card


async def _add(w: World, user: FakeUser, channel: FakeChannel, prompt: str) -> FakeInteraction:
    inter = await w.fd.slash_command(user, channel, "jam add", {"prompt": prompt})
    await inter.wait_response(timeout=10)
    return inter


def _position(inter: FakeInteraction) -> int:
    content = inter.callbacks[0].content or ""
    match = re.search(r"\*\*#(\d+)\*\*", content)
    assert match, content
    return int(match.group(1))


async def test_a_jam_with_votes_a_restart_and_a_final_render(world: World) -> None:
    w, fd = world, world.fd
    names = {w.alice.id: "alice", w.bob.id: "bob", w.carol.id: "carol"}
    async with running_bot(fd, w.settings):
        thread, card = await _start_jam(
            w, w.alice, {"theme": "dawn", "bpm": 120, "key": "A minor", "bars": 2}
        )
        jam_id = card.embeds[0]["footer"]["text"].split()[1]
        assert _buttons(card) == [f"pj:jam:play:{jam_id}", f"pj:jam:end:{jam_id}"]

        first = await _add(w, w.alice, thread, "sunrise flute")
        second = await _add(w, w.bob, thread, "heavy drums")
        third, fourth = await asyncio.gather(
            _add(w, w.carol, thread, "jazz piano"), _add(w, w.alice, thread, "ambient pads")
        )
        fifth = await _add(w, w.bob, thread, "glitch beat")
        adds = [first, second, third, fourth, fifth]
        assert not any(a.callbacks[0].ephemeral for a in adds)
        assert sorted(_position(a) for a in adds) == [1, 2, 3, 4, 5]
        assert _position(fifth) == 5

        # Two skips drop "glitch beat"; its author's keep does not save it (2 skips > 1 keep).
        vote_message = fifth.original
        assert vote_message is not None
        skip_id = next(b for b in _buttons(vote_message) if b.startswith("pj:jv:skip:"))
        keep_id = skip_id.replace(":skip:", ":keep:")
        one = await fd.click_button(w.alice, vote_message, skip_id)
        assert "dropped" not in ((await one.wait_response(timeout=5)).content or "")
        keep = await fd.click_button(w.bob, vote_message, keep_id)
        await keep.wait_response(timeout=5)
        two = await fd.click_button(w.carol, vote_message, skip_id)
        answer = await two.wait_response(timeout=5)
        assert answer.ephemeral and "dropped" in (answer.content or "")

        play = await fd.slash_command(w.alice, thread, "jam play")
        assert (await play.wait_response(timeout=5)).type == 5
        played = await play.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
        assert abs(decode_audio(_mp3(played)).duration - piece_length_s(4, SEGMENT_S, CROSSFADE_S)) <= 0.5
        assert "4 segments rendered now, 0 reused" in _fields(played)["What I understood"]
        await _eventually(lambda: _fields(fd.message(card.id))["Prompts"] == "4")

    # A restart in the middle of the jam: everything comes back from the database and the cache.
    async with running_bot(fd, w.settings):
        sixth = await _add(w, w.carol, thread, "lofi bass")
        seventh = await _add(w, w.bob, thread, "string swell")
        assert (_position(sixth), _position(seventh)) == (6, 7)
        await _eventually(lambda: _fields(fd.message(card.id))["Prompts"] == "6")

        end = await fd.slash_command(w.alice, thread, "jam end")
        assert (await end.wait_response(timeout=5)).type == 5
        done = await end.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)

        in_order = sorted([first, second, third, fourth, sixth, seventh], key=_position)
        expected_prompts = [inter.payload["data"]["options"][0]["options"][0]["value"] for inter in in_order]
        spans = segment_spans(6, SEGMENT_S, CROSSFADE_S)
        expected_credits = [
            f"{clock(start)}–{clock(stop)} @{names[inter.user.id]} — '{prompt}'"
            for inter, prompt, (start, stop) in zip(in_order, expected_prompts, spans, strict=True)
        ]
        lines = done.content.splitlines()
        assert lines[0] == "**Credits**"
        assert lines[1:] == expected_credits
        assert "glitch beat" not in done.content

        audio = decode_audio(_mp3(done))
        assert abs(audio.duration - (6 * SEGMENT_S - 5 * CROSSFADE_S)) <= 0.5
        fields = _fields(done)
        assert fields["Tempo"] == "120 bpm" and fields["Key"] == "A minor" and fields["Metre"] == "4/4"
        assert "2 segments rendered now, 4 reused" in fields["What I understood"]
        assert any(a.filename == "preview.png" for a in done.attachments)
        assert done.embeds[0]["image"]["url"] == "attachment://preview.png"
        assert not any(b.startswith("pj:reroll") for b in _buttons(done))
        assert done.allowed_mentions is not None and done.allowed_mentions.get("parse") == []

        # The card shows the end: no more buttons, state ended.
        await _eventually(lambda: "ended" in _fields(fd.message(card.id))["State"])
        assert _buttons(fd.message(card.id)) == []
        late = await _add(w, w.carol, thread, "one more")
        assert late.callbacks[0].ephemeral and "ended" in (late.callbacks[0].content or "")


async def test_one_user_spamming_adds_is_limited_while_others_get_in(world: World) -> None:
    w, fd = world, world.fd
    async with running_bot(fd, w.settings):
        thread, card = await _start_jam(w, w.alice, {"bpm": 120, "bars": 2})
        spam = await asyncio.gather(*(_add(w, w.bob, thread, f"noise {i}") for i in range(30)))
        accepted = [s for s in spam if not s.callbacks[0].ephemeral]
        refused = [s for s in spam if s.callbacks[0].ephemeral]
        assert len(accepted) == 3 and len(refused) == 27
        assert all("limit is 3" in (s.callbacks[0].content or "") for s in refused)
        carol = await _add(w, w.carol, thread, "calm harp")
        assert not carol.callbacks[0].ephemeral and _position(carol) == 4
        await _eventually(lambda: _fields(fd.message(card.id))["Prompts"] == "4")


async def test_bad_jam_input_gets_clear_private_answers(world: World) -> None:
    w, fd = world, world.fd
    moderator = fd.store.owner  # the guild owner: administrator, so a moderator
    nowhere = fd.add_text_channel(w.guild, "quiet")
    async with running_bot(fd, w.settings):
        thread, card = await _start_jam(w, w.alice, {"theme": "storm"})

        for where in (w.channel, thread):
            again = await fd.slash_command(w.bob, where, "jam start", {"theme": "another"})
            answer = await again.wait_response(timeout=5)
            assert answer.ephemeral and "already an open jam" in (answer.content or "")

        nasty = await _add(w, w.bob, thread, "@everyone <@123> **loud** drums")
        shown = nasty.callbacks[0]
        assert not shown.ephemeral and shown.data.get("allowed_mentions", {}).get("parse") == []
        assert "<@123>" not in (shown.content or "") and "\\*\\*loud\\*\\*" in (shown.content or "")
        assert nasty.original is not None
        bobs = next(b for b in _buttons(nasty.original) if b.startswith("pj:jv:")).rsplit(":", 1)[1]

        steal = await fd.slash_command(w.carol, thread, "jam remove", {"contribution": bobs})
        answer = await steal.wait_response(timeout=5)
        assert answer.ephemeral and "only remove your own" in (answer.content or "")

        auto = await fd.autocomplete(w.carol, thread, "jam remove", focused="contribution", value="")
        assert (await auto.wait_response(timeout=5)).choices == []
        auto = await fd.autocomplete(moderator, thread, "jam remove", focused="contribution", value="")
        assert [c["value"] for c in (await auto.wait_response(timeout=5)).choices] == [bobs]

        stop = await fd.slash_command(w.carol, thread, "jam end")
        answer = await stop.wait_response(timeout=5)
        assert answer.ephemeral and "starter" in (answer.content or "")

        removed = await fd.slash_command(moderator, thread, "jam remove", {"contribution": bobs})
        assert "Removed #1" in ((await removed.wait_response(timeout=5)).content or "")

        empty = await fd.slash_command(w.carol, thread, "jam play")
        assert "starter" in ((await empty.wait_response(timeout=5)).content or "")
        nothing = await fd.slash_command(w.alice, thread, "jam play")
        assert "Nothing to play" in ((await nothing.wait_response(timeout=5)).content or "")

        end = await fd.slash_command(w.alice, thread, "jam end")
        assert "ended" in ((await end.wait_response(timeout=5)).content or "")
        late = await _add(w, w.bob, thread, "too late")
        assert late.callbacks[0].ephemeral and "jam has ended" in (late.callbacks[0].content or "")

        missing = await _add(w, w.bob, nowhere, "hello")
        assert "no jam here" in (missing.callbacks[0].content or "")
        bad_key = await fd.slash_command(w.bob, nowhere, "jam start", {"key": "Z flat major"})
        assert "don't know the key" in ((await bad_key.wait_response(timeout=5)).content or "")


NOT_PROMPT_NUMBERS = ["²", "٣", "１２", "9" * 5000, "-1", "99999999999999999999", "3.0", "#", ""]


async def test_jam_remove_reads_prompt_numbers_strictly(world: World) -> None:
    """Unicode digits, huge numbers and negatives get a private, friendly answer; '#3' and ' 2 ' work."""
    w, fd = world, world.fd
    async with running_bot(fd, w.settings):
        thread, _ = await _start_jam(w, w.alice, {"theme": "numbers"})
        for prompt in ("soft rain", "low cello", "tin whistle"):
            await _add(w, w.alice, thread, prompt)

        async def remaining() -> list[str]:
            auto = await fd.autocomplete(w.alice, thread, "jam remove", focused="contribution", value="")
            return [c["name"] for c in (await auto.wait_response(timeout=5)).choices]

        for text in NOT_PROMPT_NUMBERS:
            bad = await fd.slash_command(w.alice, thread, "jam remove", {"contribution": text})
            answer = await bad.wait_response(timeout=5)
            content = answer.content or ""
            assert answer.ephemeral and "pick the prompt from the list" in content, (text[:20], content)
            assert "went wrong" not in content and "invalid literal" not in content and len(content) < 200
        assert len(await remaining()) == 3  # nothing was removed by the bad numbers

        hashed = await fd.slash_command(w.alice, thread, "jam remove", {"contribution": "#3"})
        assert "Removed #3" in ((await hashed.wait_response(timeout=5)).content or "")
        spaced = await fd.slash_command(w.alice, thread, "jam remove", {"contribution": " 2 "})
        assert "Removed #2" in ((await spaced.wait_response(timeout=5)).content or "")
        again = await fd.slash_command(w.alice, thread, "jam remove", {"contribution": "#3"})
        assert "already removed" in ((await again.wait_response(timeout=5)).content or "")
        assert [name.split()[0] for name in await remaining()] == ["#1"]

        # the bot carries on: a new prompt goes in after the bad input
        after = await _add(w, w.bob, thread, "bright marimba")
        assert not after.callbacks[0].ephemeral and _position(after) == 4


async def test_plain_messages_in_the_jam_thread_where_the_guild_enables_it(
    fake_discord: FakeDiscord, settings_factory: Callable[..., Settings]
) -> None:
    fd = fake_discord
    guild = fd.add_guild("studio")
    channel = fd.add_text_channel(guild, "jams")
    alice = fd.add_user("alice")
    bob = fd.add_user("bob")
    settings = settings_factory(
        discord_guild_id=guild.id, embeddings_enabled=False, message_content_intent=True, jam_max_per_user=1
    )
    w = World(fd, guild, channel, alice, bob, bob, settings)
    async with running_bot(fd, settings):
        thread, card = await _start_jam(w, alice, {"bpm": 120, "bars": 2})
        # Off by default: a message is just a message.
        await fd.user_message(bob, thread, "a quiet marimba")
        denied = await fd.slash_command(bob, thread, "jam messages", {"enabled": True})
        assert "manage this server" in ((await denied.wait_response(timeout=5)).content or "")
        on = await fd.slash_command(fd.store.owner, thread, "jam messages", {"enabled": True})
        assert "count as prompts" in ((await on.wait_response(timeout=5)).content or "")

        await fd.user_message(bob, thread, "warm cello line")
        reply = await fd.wait_message(thread, predicate=lambda m: "added" in m.content and "#1" in m.content)
        assert any(cid.startswith("pj:jv:") for cid in _buttons(reply))
        await fd.user_message(bob, thread, "and another one")  # over bob's limit of 1
        limited = await fd.wait_message(thread, predicate=lambda m: "⚠️" in m.content and not m.ephemeral)
        assert "limit" in limited.content
        # Messages in the parent channel are not prompts.
        await fd.user_message(alice, channel, "chatting, not jamming")
        await _eventually(lambda: any("warm cello line" in f["value"] for f in card_fields(fd, card)))
        assert not any("marimba" in f["value"] for f in card_fields(fd, card))


def card_fields(fd: FakeDiscord, card: StoredMessage) -> list[dict[str, str]]:
    current = fd.message(card.id)
    return [f for e in current.embeds for f in e.get("fields", [])] + [
        {"value": e.get("description", "")} for e in current.embeds
    ]
