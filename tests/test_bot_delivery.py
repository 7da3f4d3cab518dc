"""Lost deliveries: the real bot against a fake Discord failing on cue (5xx, 429, cut connections, crashes).

Every test checks the user's side: the piece (or the failure) arrives, exactly once, where it should, and
what can never arrive stops being tried. Retry settings are small so each test takes seconds; the fake's
faults match one interaction's webhook, and `uploads_only` leaves progress edits (JSON) alone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cogs.delivery import Deliverer
from services.jobs.store import DELIVERY_LEASE_S
from services.settings import Settings
from tests.conftest import GatedExecutor, running_bot
from tests.fakediscord import FakeChannel, FakeDiscord, FakeGuild, FakeInteraction, FakeUser, StoredMessage

ROOT = Path(__file__).resolve().parent.parent
RESULT_TIMEOUT = 90
PROMPTLY = DELIVERY_LEASE_S / 4  # a leftover that waited for the old claim's lease would miss this

# Small retry settings: waits of 0.2–0.5 s, tries cut after 2 s (discord.py alone would spend ~25 s on a
# 5xx), a sweep every half second.
FAST_RETRIES: dict[str, Any] = {
    "delivery_retry_base_s": 0.2,
    "delivery_retry_max_s": 0.5,
    "delivery_attempt_timeout_s": 2.0,
    "delivery_sweep_s": 0.5,
}


@dataclass
class World:
    fd: FakeDiscord
    guild: FakeGuild
    channel: FakeChannel
    alice: FakeUser
    settings: Callable[..., Settings]


@pytest.fixture
async def world(fake_discord: FakeDiscord, settings_factory: Callable[..., Settings]) -> AsyncIterator[World]:
    guild = fake_discord.add_guild("studio")
    channel = fake_discord.add_text_channel(guild, "music")
    alice = fake_discord.add_user("alice")

    def settings(**overrides: Any) -> Settings:
        return settings_factory(discord_guild_id=guild.id, **{**FAST_RETRIES, **overrides})

    yield World(fake_discord, guild, channel, alice, settings)


def _mp3s(m: StoredMessage) -> list[str]:
    return [a.filename for a in m.attachments if a.filename.endswith(".mp3")]


def _has_mp3(m: StoredMessage) -> bool:
    return bool(_mp3s(m))


def _route(inter: FakeInteraction) -> str:
    """The interaction's webhook messages (@original edits: progress, the result, a failure)."""
    return f"/webhooks/*/{inter.token}/messages/*"


def _posted_mp3s(world: World) -> int:
    return sum(len(_mp3s(m)) for m in world.fd.channel_messages(world.channel))


def _deliverer(bot: Any) -> Deliverer:
    deliverer = bot.deliverer  # the bot's own, shared by the music and jam cogs
    assert isinstance(deliverer, Deliverer)
    return deliverer


async def _create(world: World, prompt: str, duration: int = 4) -> FakeInteraction:
    return await world.fd.slash_command(
        world.alice, world.channel, "music create", {"prompt": prompt, "duration": duration}
    )


async def _eventually(
    probe: Callable[[], Awaitable[bool]], what: str, timeout: float = RESULT_TIMEOUT
) -> None:
    """For conditions inside the bot (the fake's change signal does not see them): poll briefly."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await probe():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def _hits(world: World, fault: Any, count: int, timeout: float = RESULT_TIMEOUT) -> None:
    await world.fd.store.changes.wait_until(
        lambda: True if len(fault.hits) >= count else None, timeout, lambda: f"{count} failed requests"
    )


async def test_a_result_outlasting_discord_py_retries_still_arrives_exactly_once(world: World) -> None:
    fd = world.fd
    async with running_bot(fd, world.settings()):
        inter = await _create(world, "sunny folk tune")
        # Six 502s in a row: more than discord.py's own five tries (it sleeps 1 + 3 + 5 + 7 + 9 s, then
        # raises), so only the bot's retries get the piece through.
        outage = fd.fail("PATCH", _route(inter), status=502, times=6, uploads_only=True)
        done = await inter.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
        assert len(outage.hits) == 6
        assert len(_mp3s(done)) == 1
        assert _posted_mp3s(world) == 1  # one message with one MP3: nothing posted twice
        assert (
            sum(1 for rev in done.history if any(a.filename.endswith(".mp3") for a in rev.attachments)) == 1
        )


async def test_token_expiring_while_retrying_posts_in_the_channel_mentioning_only_the_requester(
    world: World,
) -> None:
    fd = world.fd
    async with running_bot(fd, world.settings()):
        inter = await _create(world, "jazz @everyone")
        outage = fd.fail("PATCH", _route(inter), status=503, uploads_only=True)
        await _hits(world, outage, 6)  # past what discord.py's own five tries would have absorbed
        fd.expire_token(inter)  # the 15 minutes ran out during the outage
        outage.stop()
        # The channel has its bad moment too: 503 is one discord.py's bot client raises at once.
        channel_outage = fd.fail(
            "POST", f"/channels/{world.channel.id}/messages", status=503, times=1, uploads_only=True
        )
        message = await fd.wait_message(world.channel, predicate=_has_mp3, timeout=RESULT_TIMEOUT)
        assert len(channel_outage.hits) == 1
        assert message.id != inter.original_message_id
        assert f"<@{world.alice.id}>" in message.content
        assert message.allowed_mentions is not None
        assert message.allowed_mentions.get("parse") == []
        assert [str(u) for u in message.allowed_mentions.get("users", [])] == [str(world.alice.id)]
        assert inter.original is not None and not _has_mp3(inter.original)
        assert _posted_mp3s(world) == 1


async def test_a_quick_restart_delivers_what_the_stopped_bot_was_retrying(world: World) -> None:
    fd = world.fd
    settings = world.settings()
    async with running_bot(fd, settings):
        inter = await _create(world, "ambient drone")
        outage = fd.fail("PATCH", _route(inter), status=502, uploads_only=True)
        await _hits(world, outage, 1)
        # The bot is stopped while a try is inside discord.py's own 5xx retries (mid-upload).
    outage.stop()
    async with running_bot(fd, settings):  # the new process starts at once, on the same database
        done = await inter.wait_original_edit(timeout=PROMPTLY, predicate=_has_mp3)
        assert len(_mp3s(done)) == 1
    assert _posted_mp3s(world) == 1


_CRASHING_BOT = """
import asyncio, sys
from services.settings import Settings
from tests.conftest import BotUnderTest
from tests.fakediscord import point_discord_py_at

async def main() -> None:
    with point_discord_py_at(sys.argv[1]):
        await BotUnderTest(Settings(_env_file=None), guild_ready_timeout=0.05).start(sys.argv[2])

asyncio.run(main())
"""


async def test_a_bot_killed_mid_upload_leaves_nothing_for_the_next_one_to_wait_for(
    world: World, tmp_path: Path
) -> None:
    fd = world.fd
    settings = world.settings()
    env = {
        **os.environ,
        "DATA_DIR": str(settings.data_dir),
        "DISCORD_GUILD_ID": str(world.guild.id),
        "WORKER_MODE": "thread",
        **{name.upper(): str(value) for name, value in FAST_RETRIES.items()},
    }
    identified = fd.gateway.identifies
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CRASHING_BOT, fd.base_url, fd.bot_token, cwd=ROOT, env=env
    )
    try:
        await fd.wait_identifies(identified + 1, timeout=60)
        await fd.wait_commands_synced(guild_id=world.guild.id, timeout=60)
        inter = await _create(world, "late night techno")
        # Cut every upload's connection while its body is read: the bot in the other process keeps trying.
        cut = fd.fail("PATCH", _route(inter), drop=True, uploads_only=True)
        await _hits(world, cut, 2)
        bot.send_signal(signal.SIGKILL)  # no shutdown, no release: its claim is left in the database
        assert await bot.wait() == -signal.SIGKILL
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
    cut.stop()
    async with running_bot(fd, settings):
        done = await inter.wait_original_edit(timeout=PROMPTLY, predicate=_has_mp3)
        assert len(_mp3s(done)) == 1
    assert _posted_mp3s(world) == 1


async def test_a_rate_limit_is_waited_out_even_past_discord_py_own_tries(world: World) -> None:
    fd = world.fd
    async with running_bot(fd, world.settings(delivery_attempt_timeout_s=10.0)):
        inter = await _create(world, "upbeat chiptune")
        # Seven 429s: discord.py sleeps retry_after after each of its five tries, then raises; the bot's
        # next try (with its own floor of retry_after) gets the last two. No request may come early.
        limited = fd.fail("PATCH", _route(inter), status=429, retry_after=0.4, times=7, uploads_only=True)
        done = await inter.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
        assert len(limited.hits) == 7
        uploads = [t for t in fd.request_times("PATCH", _route(inter)) if t >= limited.hits[0]]
        assert len(uploads) == 8  # seven refused, the eighth went through
        gaps = [b - a for a, b in zip(uploads, uploads[1:], strict=False)]
        assert min(gaps) >= 0.4 * 0.95
        assert len(_mp3s(done)) == 1 and _posted_mp3s(world) == 1


async def test_a_failure_message_is_retried_like_a_result(world: World) -> None:
    fd = world.fd
    settings = world.settings(job_timeout_s=2)
    executor = GatedExecutor(settings)  # the gate never opens: the job times out and fails
    async with running_bot(fd, settings, executor=executor):
        inter = await _create(world, "slow strings")
        await inter.wait_original_edit(timeout=10, predicate=lambda m: "test gate" in m.content)
        outage = fd.fail("PATCH", _route(inter), status=500, times=6)  # more than discord.py's five tries
        failed = await inter.wait_original_edit(
            timeout=RESULT_TIMEOUT, predicate=lambda m: "took longer than 2 s" in m.content
        )
        assert len(outage.hits) == 6
        assert "❌" in failed.content and not _has_mp3(failed)
        assert sum(1 for m in fd.channel_messages(world.channel) if "took longer" in m.content) == 1


async def test_what_can_never_be_delivered_stops_after_the_horizon_and_is_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    fd = world.fd
    caplog.set_level(logging.WARNING, logger="cogs.delivery")
    async with running_bot(fd, world.settings(delivery_give_up_s=3.0)) as bot:
        inter = await _create(world, "doomed waltz")
        outage = fd.fail("PATCH", _route(inter), status=503, uploads_only=True)  # never ends
        job_id = str(inter.id)

        assert bot.engine is not None
        jobs = bot.engine.jobs

        async def given_up() -> bool:
            record = await jobs.get(job_id)
            return record is not None and record.delivered

        await _eventually(given_up, "delivery to give up")
        record = await jobs.get(job_id)
        assert record is not None and record.delivery_error is not None
        # Each try ended inside discord.py's own 5xx retries, cut off by the 2 s try limit.
        assert record.delivery_error.startswith("gave up 3 s after the job finished")
        assert "no answer within 2 s" in record.delivery_error
        assert any(job_id in r.getMessage() and "gave up" in r.getMessage() for r in caplog.records)
        assert len(outage.hits) >= 2  # it did retry before giving up

        # Nothing retries any more, not even a sweep: the job is acknowledged as never deliverable.
        deliverer = _deliverer(bot)

        async def loop_ended() -> bool:
            return job_id not in deliverer.delivering()

        await _eventually(loop_ended, "the delivery loop to end")
        seen = len(outage.hits)
        await deliverer.sweep()
        assert job_id not in deliverer.delivering()
        assert len(outage.hits) == seen
        assert _posted_mp3s(world) == 0


async def test_a_post_refused_for_good_is_replaced_by_a_short_notice_and_not_retried(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    fd = world.fd
    caplog.set_level(logging.WARNING, logger="cogs.delivery")
    settings = world.settings()
    executor = GatedExecutor(settings)
    async with running_bot(fd, settings, executor=executor) as bot:
        inter = await _create(world, "brass fanfare")
        await inter.wait_original_edit(timeout=10, predicate=lambda m: "test gate" in m.content)
        fd.expire_token(inter)  # so the result goes to the channel...
        # ...where the bot may not attach files (Discord: 403 Missing Permissions); text still goes.
        refused = fd.fail("POST", f"/channels/{world.channel.id}/messages", status=403, uploads_only=True)
        executor.gate.set()
        notice = await fd.wait_message(
            world.channel, predicate=lambda m: "would not accept" in m.content, timeout=RESULT_TIMEOUT
        )
        assert notice.content.startswith(f"<@{world.alice.id}>")
        assert [str(u) for u in (notice.allowed_mentions or {}).get("users", [])] == [str(world.alice.id)]
        assert bot.engine is not None
        jobs = bot.engine.jobs

        async def acknowledged() -> bool:
            record = await jobs.get(str(inter.id))
            return record is not None and record.delivered

        await _eventually(acknowledged, "the refusal to be recorded")
        record = await jobs.get(str(inter.id))
        assert record is not None and record.delivery_error is not None
        assert record.delivery_error.startswith("refused: 403")
        assert len(refused.hits) == 1  # refused for good: not tried again
        assert any("refused the reply for good" in r.getMessage() for r in caplog.records)
        assert _posted_mp3s(world) == 0


async def test_a_failed_first_progress_edit_is_not_reported_as_an_error(world: World) -> None:
    """The job is recorded before its first 'Queued' edit: when that edit fails, the user is not told
    'something went wrong', and the piece still arrives."""
    fd = world.fd
    async with running_bot(fd, world.settings()):
        fault = fd.fail("PATCH", "/webhooks/*/messages/@original", status=404, times=1)
        inter = await fd.slash_command(
            world.alice, world.channel, "music create", {"prompt": "calm piano", "duration": 2}
        )
        done = await inter.wait_original_edit(
            timeout=RESULT_TIMEOUT,
            predicate=lambda m: any(a.filename.endswith(".mp3") for a in m.attachments),
        )
        assert fault.hits, "the first progress edit was not the one that failed"
        texts = [rev.content or "" for rev in done.history] + [
            (m.content or "") for m in fd.channel_messages(world.channel)
        ]
        assert not any("Something went wrong" in t or "error id" in t for t in texts)


async def test_a_piece_that_kept_stopping_the_bot_is_reported_once_instead_of_resumed(world: World) -> None:
    fd = world.fd
    settings = world.settings(job_max_attempts=3)
    async with running_bot(fd, settings, executor=GatedExecutor(settings)):
        inter = await _create(world, "cursed polka")
        await inter.wait_original_edit(timeout=10, predicate=lambda m: "test gate" in m.content)
    job_id = str(inter.id)
    with sqlite3.connect(settings.database_file) as db:
        # A clean stop gave its start back; now pretend the bot died three times while making it.
        assert db.execute("SELECT state, attempts FROM jobs WHERE job_id=?", (job_id,)).fetchone() == (
            "running",
            0,
        )
        db.execute("UPDATE jobs SET attempts=3 WHERE job_id=?", (job_id,))
    executor = GatedExecutor(settings)
    async with running_bot(fd, settings, executor=executor) as bot:
        failed = await inter.wait_original_edit(
            timeout=RESULT_TIMEOUT, predicate=lambda m: "stopped the bot" in m.content
        )
        assert bot.engine is not None
        jobs = bot.engine.jobs

        async def delivered() -> bool:
            record = await jobs.get(job_id)
            return record is not None and record.delivered

        await _eventually(delivered, "the failure to be acknowledged")
        await _deliverer(bot).sweep()  # a later sweep finds nothing more to post
        record = await jobs.get(job_id)
        assert record is not None and record.error_id
        assert "stopped the bot 3 times while it was being made, so I gave up on it" in failed.content
        assert f"error id `{record.error_id}`" in failed.content
        assert "❌" in failed.content and not _has_mp3(failed)
        assert executor.entered == []  # never started again
    assert sum(1 for rev in failed.history if "stopped the bot" in rev.content) == 1
    assert sum(1 for m in fd.channel_messages(world.channel) if "stopped the bot" in m.content) == 1
