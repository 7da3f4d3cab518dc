"""Hear an image through the bot: /music image in each mode, the context menu, bad files, a vision LLM."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

from services.audio.mp3 import decode_audio
from services.settings import Settings
from tests.conftest import running_bot
from tests.fakediscord import FakeChannel, FakeDiscord, FakeGuild, FakeUser, StoredMessage
from tests.fakeopenai import FakeOpenAI, Reply

TIMEOUT = 90


def _png(colour: tuple[int, int, int], size: tuple[int, int] = (96, 64), busy: bool = False) -> bytes:
    rng = np.random.default_rng(0)
    pixels = np.zeros((size[1], size[0], 3), dtype=np.uint8) + np.array(colour, dtype=np.uint8)
    if busy:
        pixels = np.clip(pixels.astype(int) + rng.integers(-90, 90, pixels.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


def _done(m: StoredMessage) -> bool:
    return any(a.filename.endswith(".mp3") for a in m.attachments)


def _fields(m: StoredMessage) -> dict[str, str]:
    return {f["name"]: f["value"] for f in m.embeds[0]["fields"]}


@dataclass
class World:
    fd: FakeDiscord
    guild: FakeGuild
    channel: FakeChannel
    alice: FakeUser
    settings: Settings


@pytest.fixture
async def world(fake_discord: FakeDiscord, settings_factory: Callable[..., Settings]) -> AsyncIterator[World]:
    guild = fake_discord.add_guild("gallery")
    channel = fake_discord.add_text_channel(guild, "pictures")
    alice = fake_discord.add_user("alice")
    settings = settings_factory(discord_guild_id=guild.id)
    async with running_bot(fake_discord, settings):
        yield World(fake_discord, guild, channel, alice, settings)


async def test_describe_without_an_llm_uses_local_analysis(world: World) -> None:
    fd = world.fd
    inter = await fd.slash_command(
        world.alice, world.channel, "music image", {"image": ("night.png", _png((10, 20, 90))), "duration": 6}
    )
    assert (await inter.wait_response(timeout=5)).type == 5
    done = await inter.wait_original_edit(timeout=TIMEOUT, predicate=_done)
    mp3 = next(a for a in done.attachments if a.filename.endswith(".mp3"))
    assert abs(decode_audio(done.file(mp3.filename)).duration - 6) <= 0.5
    assert any(a.filename == "preview.png" for a in done.attachments)
    understood = _fields(done)["What I understood"]
    assert "prompt made from it" in understood


async def test_dark_blue_and_bright_red_pictures_sound_different(world: World) -> None:
    fd = world.fd
    tempos = []
    modes = []
    for colour, busy in (((10, 20, 90), False), ((240, 40, 30), True)):
        inter = await fd.slash_command(
            world.alice,
            world.channel,
            "music image",
            {"image": ("p.png", _png(colour, busy=busy)), "duration": 4},
        )
        done = await inter.wait_original_edit(timeout=TIMEOUT, predicate=_done)
        fields = _fields(done)
        tempos.append(float(fields["Tempo"].split()[0]))
        modes.append(fields["Key"].split()[-1])
    assert tempos[1] > tempos[0] + 15 or modes[0] != modes[1]


async def test_sonify_hears_the_picture_itself(world: World) -> None:
    fd = world.fd
    inter = await fd.slash_command(
        world.alice,
        world.channel,
        "music image",
        {"image": ("stripes.png", _png((200, 200, 200), size=(200, 100))), "mode": "sonify", "duration": 3},
    )
    done = await inter.wait_original_edit(timeout=TIMEOUT, predicate=_done)
    mp3 = next(a for a in done.attachments if a.filename.endswith(".mp3"))
    assert abs(decode_audio(done.file(mp3.filename)).duration - 3) <= 0.5
    assert "spectrogram" in _fields(done)["What I understood"]


async def test_img2img_without_riffusion_says_why(world: World) -> None:
    inter = await world.fd.slash_command(
        world.alice, world.channel, "music image", {"image": ("a.png", _png((1, 2, 3))), "mode": "img2img"}
    )
    response = await inter.wait_response(timeout=5)
    assert response.ephemeral and "riffusion" in (response.content or "")


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("empty.png", b"", "empty"),
        ("page.png", b"<!DOCTYPE html><html><body>hi</body></html>", "HTML"),
        ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG"),
        ("cut.png", _png((5, 5, 5))[:60], "cut short"),
    ],
)
async def test_bad_files_get_a_clear_message(world: World, name: str, data: bytes, expected: str) -> None:
    inter = await world.fd.slash_command(world.alice, world.channel, "music image", {"image": (name, data)})
    final = await inter.wait_original_edit(
        timeout=TIMEOUT, predicate=lambda m: "⚠️" in m.content or "❌" in m.content
    )
    assert expected.lower() in final.content.lower()
    assert not _done(final)


async def test_hear_this_image_context_menu(world: World) -> None:
    fd = world.fd
    upload = fd.attachment("sunset.png", _png((250, 120, 40)), content_type="image/png")
    posted = await fd.user_message(world.alice, world.channel, "look at this", attachments=[upload])
    inter = await fd.message_command(world.alice, "Hear this image", posted)
    assert (await inter.wait_response(timeout=5)).type == 5
    await inter.wait_original_edit(timeout=TIMEOUT, predicate=_done)

    plain = await fd.user_message(world.alice, world.channel, "no picture here")
    nothing = await fd.message_command(world.alice, "Hear this image", plain)
    answer = await nothing.wait_response(timeout=5)
    assert answer.ephemeral and "no picture" in (answer.content or "")


async def test_describe_with_a_vision_model(
    fake_discord: FakeDiscord, settings_factory: Callable[..., Settings]
) -> None:
    fd = fake_discord
    guild = fd.add_guild("g")
    channel = fd.add_text_channel(guild, "c")
    alice = fd.add_user("alice")
    with FakeOpenAI() as llm:
        llm.script(
            Reply.json(
                {"caption": "a lighthouse in a storm", "music_prompt": "stormy cinematic strings, 90 bpm"}
            )
        )
        settings = settings_factory(discord_guild_id=guild.id, openai_base_url=llm.base_url)
        async with running_bot(fd, settings):
            inter = await fd.slash_command(
                alice, channel, "music image", {"image": ("l.png", _png((90, 90, 120)))}
            )
            done = await inter.wait_original_edit(timeout=TIMEOUT, predicate=_done)
        sent = llm.completions()[0]
        assert "data:image/png;base64," in str(sent.body)
    fields = _fields(done)
    assert fields["Tempo"] == "90 bpm"
    assert "lighthouse" in fields["What I understood"]


async def test_listening_channel_answers_posted_pictures(
    fake_discord: FakeDiscord, settings_factory: Callable[..., Settings]
) -> None:
    fd = fake_discord
    guild = fd.add_guild("g")
    channel = fd.add_text_channel(guild, "gallery")
    quiet = fd.add_text_channel(guild, "chat")
    alice = fd.add_user("alice")
    admin = fd.store.owner  # the guild owner has Manage Server
    settings = settings_factory(discord_guild_id=guild.id, message_content_intent=True)
    async with running_bot(fd, settings):
        denied = await fd.slash_command(alice, channel, "music listen", {"enabled": True})
        refusal = await denied.wait_response(timeout=5)
        assert refusal.ephemeral and "can manage this server" in (refusal.content or "")
        on = await fd.slash_command(admin, channel, "music listen", {"enabled": True})
        assert "listening" in ((await on.wait_response(timeout=5)).content or "")
        upload = fd.attachment("dawn.png", _png((240, 180, 90)), content_type="image/png")
        await fd.user_message(alice, channel, "sunrise over the hills", attachments=[upload])
        answer = await fd.wait_message(channel, predicate=_done, timeout=TIMEOUT)
        assert f"<@{alice.id}>" in answer.content
        assert answer.allowed_mentions is not None and answer.allowed_mentions.get("parse") == []
        # Other channels are not listened to.
        other = fd.attachment("x.png", _png((1, 1, 1)), content_type="image/png")
        await fd.user_message(alice, quiet, "not here", attachments=[other])
        off = await fd.slash_command(admin, channel, "music listen", {"enabled": False})
        assert "no longer" in ((await off.wait_response(timeout=5)).content or "")
    assert not any(_done(m) for m in fd.channel_messages(quiet))


async def test_listening_needs_the_message_content_intent(world: World) -> None:
    inter = await world.fd.slash_command(
        world.fd.store.owner, world.channel, "music listen", {"enabled": True}
    )
    response = await inter.wait_response(timeout=5)
    assert response.ephemeral and "MESSAGE_CONTENT_INTENT" in (response.content or "")
