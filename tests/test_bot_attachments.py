"""Attachments through the real bot when Discord's CDN misbehaves: every fault gets a clear answer in the
deferred reply, the bot keeps working, and a restart mid-download loses nothing and delivers once.

The job is recorded before its file is fetched; the fake CDN stalls, cuts, errors and lies on demand.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from services.settings import Settings
from tests.conftest import running_bot
from tests.fakediscord import CdnFault, FakeChannel, FakeDiscord, FakeGuild, FakeUser, StoredMessage

TIMEOUT = 90
STALL_S = 1.0  # ATTACHMENT_STALL_S in these tests
TOTAL_S = 4.0  # ATTACHMENT_TIMEOUT_S
LIMIT = 256 * 1024  # IMAGE_MAX_BYTES


def _png(colour: tuple[int, int, int] = (30, 60, 200)) -> bytes:
    rng = np.random.default_rng(1)
    pixels = np.clip(rng.normal(colour, 30, (64, 96, 3)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


def _done(m: StoredMessage) -> bool:
    return any(a.filename.endswith(".mp3") for a in m.attachments)


def _failed(m: StoredMessage) -> bool:
    return "❌" in m.content or "⚠️" in m.content


@dataclass
class World:
    fd: FakeDiscord
    guild: FakeGuild
    channel: FakeChannel
    alice: FakeUser
    settings: Settings


@pytest.fixture
def world(fake_discord: FakeDiscord, settings_factory: Callable[..., Settings]) -> World:
    guild = fake_discord.add_guild("gallery")
    channel = fake_discord.add_text_channel(guild, "pictures")
    alice = fake_discord.add_user("alice")
    settings = settings_factory(
        discord_guild_id=guild.id,
        attachment_stall_s=STALL_S,
        attachment_timeout_s=TOTAL_S,
        image_max_bytes=LIMIT,
        user_jobs_per_minute=100,
        per_user_queued_jobs=20,
        message_content_intent=True,
    )
    return World(fake_discord, guild, channel, alice, settings)


IMAGE_FAULTS = [
    ("stall", CdnFault(stall_after=0), {}, f"nothing arrived for {STALL_S:g} s"),
    ("stall mid-body", CdnFault(stall_after=2000), {}, "stopped sending your file"),
    ("dropped", CdnFault(drop_after=2000), {}, "connection to Discord dropped"),
    ("503", CdnFault(status=503), {}, "file server had a problem (503)"),
    ("gone", CdnFault(status=404), {}, "no longer has that file"),
    ("length lies", CdnFault(content_length=10**5), {}, "connection to Discord dropped"),
    ("too big", CdnFault(chunked=True, chunk_size=8192), {"big": True}, "the most I can take"),
    ("trickle", CdnFault(chunk_size=200, chunk_delay_s=0.3), {}, f"took longer than {TOTAL_S:g} s"),
    ("empty", None, {"empty": True}, "empty"),
]


async def test_each_cdn_fault_gets_a_clear_answer_and_the_bot_keeps_working(world: World) -> None:
    fd = world.fd
    async with running_bot(fd, world.settings):
        since = fd.heartbeats[-1].at if fd.heartbeats else 0.0
        for name, fault, shape, expected in IMAGE_FAULTS:
            data = b"" if shape.get("empty") else _png()
            if shape.get("big"):
                data += bytes(LIMIT)  # over the cap, while Discord declares it small
            att = fd.attachment(f"{name}.png", data, fault=fault, declared_size=1000)
            inter = await fd.slash_command(world.alice, world.channel, "music image", {"image": att})
            response = await inter.wait_response(timeout=5)
            assert response.type == 5 and response.latency < 3.0, name  # accepted and deferred at once
            final = await inter.wait_original_edit(timeout=30, predicate=_failed)
            assert expected in final.content, (name, final.content)
            assert "error id" not in final.content and not _done(final), name
        assert fd.max_heartbeat_gap(since=since) < 1.5  # downloads never blocked the event loop

        # The bot keeps working: a picture the CDN serves properly becomes music.
        good = await fd.slash_command(
            world.alice, world.channel, "music image", {"image": ("fine.png", _png()), "duration": 3}
        )
        await good.wait_original_edit(timeout=TIMEOUT, predicate=_done)


async def test_a_declared_size_over_the_cap_is_refused_privately_before_any_download(world: World) -> None:
    fd = world.fd
    async with running_bot(fd, world.settings):
        att = fd.attachment("huge.png", _png(), declared_size=LIMIT * 4)
        inter = await fd.slash_command(world.alice, world.channel, "music image", {"image": att})
        response = await inter.wait_response(timeout=5)
        assert response.ephemeral and "the most I can take is 256 KB" in (response.content or "")
        assert fd.cdn.hits[att.id] == 0


async def test_listening_channel_and_cancel_while_downloading(world: World) -> None:
    fd = world.fd
    admin = fd.store.owner
    patient = world.settings.model_copy(update={"attachment_stall_s": 60.0, "attachment_timeout_s": 120.0})
    async with running_bot(fd, patient):
        on = await fd.slash_command(admin, world.channel, "music listen", {"enabled": True})
        await on.wait_response(timeout=5)
        broken = fd.attachment("dawn.png", _png(), content_type="image/png", fault=CdnFault(status=502))
        await fd.user_message(world.alice, world.channel, "sunrise", attachments=[broken])
        told = await fd.wait_message(world.channel, predicate=lambda m: "(502)" in m.content, timeout=30)
        assert f"<@{world.alice.id}>" in told.content and "❌" in told.content

        # A download that hangs can be seen in the queue and cancelled.
        hanging = fd.attachment("slow.png", _png(), fault=CdnFault(stall_after=0))
        inter = await fd.slash_command(world.alice, world.channel, "music image", {"image": hanging})
        await inter.wait_original_edit(timeout=10, predicate=lambda m: "Downloading your file" in m.content)
        queue = await fd.slash_command(world.alice, world.channel, "music queue")
        assert "downloading your file" in ((await queue.wait_response(timeout=5)).content or "")
        cancel = await fd.slash_command(world.alice, world.channel, "music cancel", {"job": str(inter.id)})
        assert "Cancelled" in ((await cancel.wait_response(timeout=5)).content or "")
        await inter.wait_original_edit(timeout=10, predicate=lambda m: "Cancelled" in m.content)


async def test_a_restart_during_a_stalled_download_fetches_again_and_delivers_once(world: World) -> None:
    fd = world.fd
    settings = world.settings.model_copy(update={"attachment_stall_s": 60.0, "attachment_timeout_s": 120.0})
    att = fd.attachment("night.png", _png((10, 20, 90)), fault=CdnFault(stall_after=100))
    gone = fd.attachment("lost.png", _png(), fault=CdnFault(stall_after=0))
    async with running_bot(fd, settings):
        comes_back = await fd.slash_command(
            world.alice, world.channel, "music image", {"image": att, "duration": 3}
        )
        lost = await fd.slash_command(world.alice, world.channel, "music image", {"image": gone})
        for inter in (comes_back, lost):
            assert (await inter.wait_response(timeout=5)).type == 5
            await inter.wait_original_edit(timeout=10, predicate=lambda m: "Downloading" in m.content)
    # The bot went down mid-download. The CDN recovers for one file; the other was deleted meanwhile.
    fd.cdn.fault(att, None)
    fd.cdn.delete(gone)
    async with running_bot(fd, settings):
        done = await comes_back.wait_original_edit(timeout=TIMEOUT, predicate=_done)
        failed = await lost.wait_original_edit(timeout=30, predicate=_failed)
        assert "no longer has that file" in failed.content and "error id" not in failed.content
    assert fd.cdn.hits[att.id] == 2 and fd.cdn.hits[gone.id] == 2  # fetched again after the restart
    # A third start finds nothing left to do: each outcome was delivered exactly once.
    async with running_bot(fd, settings):
        pass
    assert sum(1 for rev in fd.message(done.id).history if rev.attachments) == 1
    assert sum(1 for rev in fd.message(failed.id).history if "❌" in rev.content) == 1
    assert sum(1 for m in fd.channel_messages(world.channel) if _done(m)) == 1


@pytest.fixture(scope="module")
def tiny_riffusion(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """riffusion (the backend that takes audio) must be available for /music create audio: to be accepted."""
    pytest.importorskip("diffusers")
    from tests.tiny_models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-riffusion"))


AUDIO_FAULTS = [
    ("stall", CdnFault(stall_after=0), f"nothing arrived for {STALL_S:g} s"),
    ("dropped", CdnFault(drop_after=4000), "connection to Discord dropped"),
    ("500", CdnFault(status=500), "file server had a problem (500)"),
    ("gone", CdnFault(status=410), "no longer has that file"),
    ("too big", CdnFault(chunked=True), "the most I can take"),
]


async def test_audio_attachment_faults_get_a_clear_answer(world: World, tiny_riffusion: Path) -> None:
    from tests.tiny_models import wav_bytes

    fd = world.fd
    settings = world.settings.model_copy(update={"riffusion_model": str(tiny_riffusion)})
    async with running_bot(fd, settings):
        for name, fault, expected in AUDIO_FAULTS:
            data = wav_bytes(1.0) + (bytes(LIMIT) if name == "too big" else b"")
            att = fd.attachment(f"{name}.wav", data, fault=fault, declared_size=1000)
            inter = await fd.slash_command(
                world.alice, world.channel, "music create", {"prompt": "make it jazz", "audio": att}
            )
            assert (await inter.wait_response(timeout=5)).type == 5, name
            final = await inter.wait_original_edit(timeout=30, predicate=_failed)
            assert expected in final.content and "error id" not in final.content, (name, final.content)
        # Still working: another request goes through.
        ok = await fd.slash_command(
            world.alice, world.channel, "music create", {"prompt": "calm piano", "duration": 3}
        )
        await ok.wait_original_edit(timeout=TIMEOUT, predicate=_done)
