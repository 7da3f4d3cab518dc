"""Workers on other machines, through the real bot, a real redis-server and real `promptjam worker` processes.

The bot runs against the fake Discord in this process; each worker is a process of its own reading the sine
backend's job stream. Nothing here sends extra traffic to make Redis "notice" a dead worker: takeovers must
happen on their own.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.client import PromptJamBot
from services.audio.mp3 import decode_audio
from services.settings import Settings
from tests.conftest import make_settings, running_bot
from tests.fakediscord import FakeDiscord, FakeInteraction, StoredMessage
from tests.redis_server import RedisServer
from tests.sine_backend import FREQUENCY_HZ, dominant_hz
from tests.workers_harness import WorkerProcess, start_worker

RESULT_TIMEOUT = 90


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    try:
        yield started
    finally:
        for worker in started:
            worker.stop()


async def _create(fd: FakeDiscord, user: Any, channel: Any, prompt: str, duration: int) -> FakeInteraction:
    """`/music create` on the sine backend, the one the workers here serve."""
    return await fd.slash_command(
        user, channel, "music create", {"prompt": prompt, "backend": "sine", "duration": duration}
    )


def _has_mp3(m: StoredMessage) -> bool:
    return any(a.filename.endswith(".mp3") for a in m.attachments)


def _posted_mp3s(fd: FakeDiscord, channel: Any) -> int:
    return sum(1 for m in fd.channel_messages(channel) for a in m.attachments if a.filename.endswith(".mp3"))


def _summary(message: StoredMessage) -> str:
    fields = {f["name"]: f["value"] for f in message.embeds[0]["fields"]}
    return str(fields["What I understood"])


def _bot_settings(tmp_path: Path, redis: RedisServer, guild_id: int, **overrides: Any) -> Settings:
    return make_settings(
        tmp_path / "bot",
        discord_guild_id=guild_id,
        redis_url=redis.url,
        remote_backends=("sine",),
        worker_claim_timeout_s=3.0,
        **overrides,
    )


async def _until(check: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _sees_workers(bot: PromptJamBot, count: int) -> None:
    executor: Any = bot.engine.jobs.executor
    await _until(lambda: len(executor.serving("sine")) >= count, what=f"{count} live worker(s)")


@pytest.fixture
def studio(fake_discord: FakeDiscord) -> tuple[Any, Any, Any]:
    guild = fake_discord.add_guild("studio")
    channel = fake_discord.add_text_channel(guild, "music")
    alice = fake_discord.add_user("alice")
    return guild, channel, alice


async def test_a_worker_makes_the_piece_and_the_bot_delivers_it(
    sine: None,
    fake_discord: FakeDiscord,
    redis: RedisServer,
    workers: list[WorkerProcess],
    studio: tuple[Any, Any, Any],
    tmp_path: Path,
) -> None:
    guild, channel, alice = studio
    workers += [start_worker(redis.url, tmp_path / f"w{i}") for i in range(2)]
    async with running_bot(fake_discord, _bot_settings(tmp_path, redis, guild.id)) as bot:
        await _sees_workers(bot, 2)
        listing = await fake_discord.slash_command(alice, channel, "music backends")
        embed = (await listing.wait_response(timeout=5)).data["embeds"][0]
        assert "✅ sine" in {f["name"] for f in embed["fields"]}
        inter = await _create(fake_discord, alice, channel, "a clean tone", 3)
        done = await inter.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
    audio = decode_audio(done.file(next(a.filename for a in done.attachments if a.filename.endswith(".mp3"))))
    assert abs(audio.duration - 3.0) <= 0.5
    assert abs(dominant_hz(audio) - FREQUENCY_HZ) < 5.0
    made_by = _summary(done)
    assert f"process {os.getpid()}" not in made_by  # not made in the bot's process ...
    assert any(f"process {w.pid}" in made_by for w in workers)  # ... but by one of the workers


def _started_on(workers: list[WorkerProcess], job_id: str) -> WorkerProcess | None:
    return next((w for w in workers if f"job {job_id} (sine) started" in w.log()), None)


async def test_a_worker_killed_mid_render_loses_the_job_to_the_other_which_delivers_it_once(
    sine: None,
    fake_discord: FakeDiscord,
    redis: RedisServer,
    workers: list[WorkerProcess],
    studio: tuple[Any, Any, Any],
    tmp_path: Path,
) -> None:
    guild, channel, alice = studio
    # 30 steps of 0.2 s: a 6 s render, killed about a second in; the claim timeout is 3 s
    workers += [start_worker(redis.url, tmp_path / f"w{i}", step_s=0.2, steps=30) for i in range(2)]
    async with running_bot(fake_discord, _bot_settings(tmp_path, redis, guild.id)) as bot:
        await _sees_workers(bot, 2)
        inter = await _create(fake_discord, alice, channel, "a long tone", 3)
        job_id = str(inter.id)
        await _until(lambda: _started_on(workers, job_id) is not None, what="the job to start on a worker")
        first = _started_on(workers, job_id)
        assert first is not None
        await asyncio.sleep(1.0)
        first.kill()  # SIGKILL: no goodbye, its claim on the message just stops being renewed
        survivor = next(w for w in workers if w is not first)
        done = await inter.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
        await asyncio.sleep(1.0)  # anything posted twice would have arrived by now
    assert f"process {survivor.pid}" in _summary(done)
    assert "taking over job message" in survivor.log()
    assert _posted_mp3s(fake_discord, channel) == 1  # one MP3 in the channel: posted exactly once


async def test_a_piece_finished_while_the_bot_was_down_is_delivered_by_the_next_start(
    sine: None,
    fake_discord: FakeDiscord,
    redis: RedisServer,
    workers: list[WorkerProcess],
    studio: tuple[Any, Any, Any],
    tmp_path: Path,
) -> None:
    guild, channel, alice = studio
    worker = start_worker(redis.url, tmp_path / "w0", step_s=0.2, steps=15)
    workers.append(worker)
    settings = _bot_settings(tmp_path, redis, guild.id)
    async with running_bot(fake_discord, settings) as bot:
        await _sees_workers(bot, 1)
        inter = await _create(fake_discord, alice, channel, "a tone for later", 3)
        await asyncio.to_thread(worker.wait_log, f"job {inter.id} (sine) started")
    # the bot is down: the worker finishes and stores the piece in Redis; nobody is there to post it
    await asyncio.to_thread(worker.wait_log, f"job {inter.id} done")
    assert inter.original is None or not _has_mp3(inter.original)
    async with running_bot(fake_discord, settings):
        done = await inter.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
        await asyncio.sleep(0.5)
    assert f"process {worker.pid}" in _summary(done)
    assert worker.log().count(f"job {inter.id} (sine) started") == 1  # picked up, not made again
    assert _posted_mp3s(fake_discord, channel) == 1


async def test_redis_down_refuses_new_pieces_clearly_and_accepted_ones_survive_its_restart(
    sine: None,
    fake_discord: FakeDiscord,
    redis: RedisServer,
    workers: list[WorkerProcess],
    studio: tuple[Any, Any, Any],
    tmp_path: Path,
) -> None:
    guild, channel, alice = studio
    bob = fake_discord.add_user("bob")
    carol = fake_discord.add_user("carol")
    worker = start_worker(redis.url, tmp_path / "w0", step_s=0.2, steps=20)
    workers.append(worker)
    async with running_bot(fake_discord, _bot_settings(tmp_path, redis, guild.id)) as bot:
        executor: Any = bot.engine.jobs.executor
        await _sees_workers(bot, 1)
        first = await _create(fake_discord, alice, channel, "first tone", 2)
        await asyncio.to_thread(worker.wait_log, f"job {first.id} (sine) started")
        # the only worker is busy: bob's piece waits in the bot's queue (its record is in SQLite)
        second = await _create(fake_discord, bob, channel, "second tone", 2)
        await _until(lambda: bot.engine.jobs.position_of(str(second.id)) == 1, what="the second job queued")

        redis.stop()  # a Redis without persistence: everything in it is gone
        await _until(lambda: not executor._reachable, what="the bot to notice Redis is down")
        refused = await _create(fake_discord, carol, channel, "third tone", 2)
        answer = await refused.wait_response(timeout=10)
        assert answer.ephemeral and "can't be reached right now" in (answer.content or "")

        redis.start()  # empty, on the same port
        one = await first.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
        two = await second.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
        assert f"process {worker.pid}" in _summary(one) and f"process {worker.pid}" in _summary(two)

        # and it recovered by itself: a new piece is accepted and made again
        await _sees_workers(bot, 1)
        third = await _create(fake_discord, carol, channel, "third tone", 2)
        await third.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
        await asyncio.sleep(0.5)
    assert _posted_mp3s(fake_discord, channel) == 3


async def test_with_no_live_worker_the_bot_says_so_and_takes_no_piece(
    sine: None,
    fake_discord: FakeDiscord,
    redis: RedisServer,
    studio: tuple[Any, Any, Any],
    tmp_path: Path,
) -> None:
    guild, channel, alice = studio
    async with running_bot(fake_discord, _bot_settings(tmp_path, redis, guild.id)) as bot:
        inter = await _create(fake_discord, alice, channel, "a tone", 2)
        answer = await inter.wait_response(timeout=10)
        assert answer.ephemeral and "no worker is running it right now" in (answer.content or "")
        assert bot.engine.jobs.queue_length() == 0
        # styles is not in REMOTE_BACKENDS here: it still runs in the bot's own workers
        local = await fake_discord.slash_command(
            alice, channel, "music create", {"prompt": "lo-fi", "duration": 2}
        )
        await local.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
