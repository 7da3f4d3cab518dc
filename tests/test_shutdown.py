"""Stopping the bot: SIGTERM is a clean stop, SIGKILL takes the workers with it, nothing is lost.

The bot runs as a real process (`python -m tests.bot_process` → `bot.runner.run_bot`) with worker
processes, against the fake Discord in this test's event loop over loopback. Jobs run on the real
styles backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from bot.shutdown import StopSignals
from services.engine import Engine, RequestOptions
from services.errors import ShuttingDown
from services.jobs.executors import ThreadExecutor
from services.jobs.models import JobState
from services.settings import Settings
from tests.conftest import GatedExecutor, make_settings, running_bot
from tests.fakediscord import FakeChannel, FakeDiscord, FakeGuild, FakeUser, StoredMessage
from tests.processes import alive

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 240  # a cold start on a busy machine: imports, spawned workers, command sync
RESULT_TIMEOUT = 180
LONG = {"prompt": "slow ambient drone with soft pads and a distant piano", "duration": 120, "seed": 5}


@dataclass
class World:
    fd: FakeDiscord
    guild: FakeGuild
    channel: FakeChannel
    alice: FakeUser
    bob: FakeUser
    data_dir: Path


@pytest.fixture
async def world(fake_discord: FakeDiscord, tmp_path: Path) -> AsyncIterator[World]:
    guild = fake_discord.add_guild("studio")
    channel = fake_discord.add_text_channel(guild, "music")
    alice = fake_discord.add_user("alice")
    bob = fake_discord.add_user("bob")
    yield World(fake_discord, guild, channel, alice, bob, tmp_path / "data")


@dataclass
class BotProcess:
    """The bot in its own process, its output collected as it comes."""

    proc: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    @property
    def output(self) -> str:
        return "".join(self.lines)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode("utf-8", "replace"))

    async def until(self, awaitable: Awaitable[Any], timeout: float) -> None:
        """Wait for `awaitable`, failing at once (with the bot's output) if the process exits first."""
        waiting = asyncio.ensure_future(awaitable)
        exited = asyncio.ensure_future(self.proc.wait())
        try:
            done, _ = await asyncio.wait({waiting, exited}, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            exited.cancel()
        if waiting not in done:
            waiting.cancel()
            raise AssertionError(f"bot exited or timed out ({self.proc.returncode}):\n{self.output[-4000:]}")
        waiting.result()

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children(recursive=True)


@contextlib.asynccontextmanager
async def bot_process(world: World, *, ready: bool = True, **env: str) -> AsyncIterator[BotProcess]:
    """The bot in a process of its own; with `ready`, once its commands are synced and it identified."""
    fd = world.fd
    values = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "HOME": str(world.data_dir.parent),
        "FAKE_DISCORD_URL": fd.base_url,
        "DISCORD_TOKEN": fd.bot_token,
        "DISCORD_GUILD_ID": str(world.guild.id),
        "DATA_DIR": str(world.data_dir),
        "WORKER_MODE": "process",
        "WORKERS": "1",
        "ENABLED_BACKENDS": "styles",
        "EMBEDDINGS_ENABLED": "false",
        "PROGRESS_INTERVAL_S": "0.3",
        "SHUTDOWN_GRACE_S": "2",
        **env,
    }
    identified = fd.gateway.identifies
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.bot_process",
        cwd=world.data_dir.parent,  # no stray .env
        env=values,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    bot = BotProcess(proc)
    bot.reader = asyncio.create_task(bot._read())
    try:
        if ready:
            # setup_hook (which syncs commands when they changed) runs before IDENTIFY.
            await bot.until(fd.wait_identifies(identified + 1, timeout=START_TIMEOUT), START_TIMEOUT)
        yield bot
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        await asyncio.wait_for(bot.reader, 30)




def _of_this_bot(data_dir: Path) -> list[psutil.Process]:
    """Every process started for the bot that uses `data_dir` (workers inherit its environment)."""
    found = []
    for p in psutil.process_iter():
        try:
            if p.pid != os.getpid() and p.environ().get("DATA_DIR") == str(data_dir):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return found


async def _until_gone(procs: list[psutil.Process], timeout: float = 30.0) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while alive(procs) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return alive(procs)


def _job_row(data_dir: Path, job_id: str) -> tuple[str, int] | None:
    """(state, delivered) of a job, read straight from the bot's SQLite file."""
    path = data_dir / "promptjam.sqlite3"
    if not path.exists():
        return None
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
        row = db.execute("SELECT state, delivered FROM jobs WHERE job_id=?", (job_id,)).fetchone()
    return (str(row[0]), int(row[1])) if row else None


async def _until_state(data_dir: Path, job_id: str, states: set[str], timeout: float) -> tuple[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = await asyncio.to_thread(_job_row, data_dir, job_id)
        if row is not None and row[0] in states:
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached {states} (last: {row})")


def _has_mp3(m: StoredMessage) -> bool:
    return any(a.filename.endswith(".mp3") for a in m.attachments)


def _mp3_uploads(m: StoredMessage) -> set[int]:
    """Ids of every MP3 attachment the message ever had: each delivery uploads a new one."""
    return {a.id for rev in m.history for a in rev.attachments if a.filename.endswith(".mp3")}


# --- SIGTERM ---------------------------------------------------------------------------------------


async def test_sigterm_stops_cleanly_and_a_new_bot_resumes_the_running_job(world: World) -> None:
    fd = world.fd
    async with bot_process(world) as bot:
        session = fd.gateway.current.session_id if fd.gateway.current else None
        workers = bot.descendants()
        assert any("multiprocessing" in " ".join(p.cmdline()) for p in workers), bot.output

        inter = await fd.slash_command(world.alice, world.channel, "music create", LONG)
        assert (await inter.wait_response(timeout=30)).type == 5
        await _until_state(world.data_dir, str(inter.id), {"running"}, RESULT_TIMEOUT)
        workers = bot.descendants()  # a worker started for the job counts too

        bot.proc.send_signal(signal.SIGTERM)
        await bot.until(bot.proc.wait(), 60)
        assert bot.proc.returncode == 0, bot.output

    assert "SIGTERM: shutting down" in bot.output and "stopped" in bot.output
    closes = [c for c in fd.gateway.closes if c.session_id == session]
    assert closes and closes[-1].clean, closes  # the client closed the gateway with a close frame
    assert not await _until_gone(workers), "worker processes outlived the bot"
    assert not await _until_gone(_of_this_bot(world.data_dir))

    state, delivered = await asyncio.to_thread(_job_row, world.data_dir, str(inter.id)) or ("?", 0)
    # Either the job finished (and maybe reached Discord) within the grace, or it was left to resume.
    assert state in ("running", "done"), state

    settings = make_settings(world.data_dir, discord_guild_id=world.guild.id, enabled_backends="styles")
    async with running_bot(fd, settings):
        done = await inter.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
        await _until_state(world.data_dir, str(inter.id), {"done"}, RESULT_TIMEOUT)
        deadline = time.monotonic() + RESULT_TIMEOUT
        while (await asyncio.to_thread(_job_row, world.data_dir, str(inter.id)) or ("", 0))[1] != 1:
            assert time.monotonic() < deadline, "the resumed job was never acknowledged as delivered"
            await asyncio.sleep(0.1)
    assert len(_mp3_uploads(done)) == 1, "delivered more than once"
    others = [m for m in fd.channel_messages(world.channel) if _has_mp3(m) and m.id != done.id]
    assert not inter.followups and not others  # and not posted a second way either


async def test_sigterm_during_start_up_exits_cleanly(world: World) -> None:
    """A stop while the engine is still opening and the workers still warming up."""
    async with bot_process(world, ready=False) as bot:
        deadline = time.monotonic() + START_TIMEOUT
        while "logging in" not in bot.output:
            assert bot.proc.returncode is None and time.monotonic() < deadline, bot.output
            await asyncio.sleep(0.01)
        bot.proc.send_signal(signal.SIGTERM)
        await bot.until(bot.proc.wait(), 60)
        assert bot.proc.returncode == 0, bot.output
    assert "Traceback" not in bot.output, bot.output
    assert not await _until_gone(_of_this_bot(world.data_dir))


def test_stop_signals_stop_then_hurry() -> None:
    signals = StopSignals()
    signals.on_signal(signal.SIGTERM)
    assert signals.requested.is_set() and not signals.hurry.is_set()
    signals.on_signal(signal.SIGINT)
    assert signals.hurry.is_set()


# --- SIGKILL ---------------------------------------------------------------------------------------


async def test_a_killed_bot_takes_its_busy_workers_with_it(world: World) -> None:
    fd = world.fd
    async with bot_process(world) as bot:
        inter = await fd.slash_command(world.alice, world.channel, "music create", LONG)
        await _until_state(world.data_dir, str(inter.id), {"running"}, RESULT_TIMEOUT)
        session = fd.gateway.current.session_id if fd.gateway.current else None
        workers = bot.descendants()
        assert workers, bot.output
        bot.proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(bot.proc.wait(), 30)
    assert not await _until_gone(workers), [p.cmdline() for p in alive(workers)]
    assert not await _until_gone(_of_this_bot(world.data_dir))
    await fd.wait_disconnected(timeout=30)
    closes = [c for c in fd.gateway.closes if c.session_id == session]
    assert closes and not closes[-1].clean  # a crash, as the fake sees it: no close frame


# --- the grace period, in process --------------------------------------------------------------------


async def test_a_running_job_finishes_and_is_delivered_during_the_grace_new_ones_are_refused(
    world: World,
) -> None:
    fd = world.fd
    settings = make_settings(world.data_dir, discord_guild_id=world.guild.id, enabled_backends="styles")
    executor = GatedExecutor(settings)
    async with running_bot(fd, settings, executor=executor) as bot:
        assert bot.engine is not None
        jobs = bot.engine.jobs
        inter = await fd.slash_command(world.alice, world.channel, "music create", {"prompt": "calm piano"})
        while executor.entered != [str(inter.id)]:
            await asyncio.sleep(0.02)
        session = fd.gateway.current.session_id if fd.gateway.current else None

        stopping = asyncio.create_task(bot.shutdown(120.0))
        while jobs.accepting:
            await asyncio.sleep(0.01)
        late = await fd.slash_command(world.bob, world.channel, "music create", {"prompt": "one more"})
        answer = await late.wait_response(timeout=10)
        assert answer.ephemeral and answer.content is not None and "restarting" in answer.content
        assert not stopping.done()  # still waiting for the running job

        executor.gate.set()
        done = await inter.wait_original_edit(timeout=RESULT_TIMEOUT, predicate=_has_mp3)
        await asyncio.wait_for(stopping, 60)  # returns once the result was delivered, not after 120 s
    closes = [c for c in fd.gateway.closes if c.session_id == session]
    assert closes and closes[-1].clean
    assert _job_row(world.data_dir, str(inter.id)) == ("done", 1)
    assert _job_row(world.data_dir, str(late.id)) is None
    assert len(_mp3_uploads(done)) == 1


async def test_drain_gives_up_after_the_grace_or_when_hurried_and_the_job_resumes(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory()
    request_options = RequestOptions("calm piano", duration_s=2)
    executor = GatedExecutor(settings)
    async with Engine(settings, executor=executor) as engine:  # the gate never opens
        jobs = engine.jobs
        await engine.submit("busy", engine.build_request(request_options, user_id=1))
        await engine.submit("waiting", engine.build_request(request_options, user_id=2))
        while executor.entered != ["busy"]:
            await asyncio.sleep(0.01)
        assert await jobs.drain(0.2) == ["busy"]  # the grace ran out
        hurry = asyncio.Event()
        hurry.set()
        assert await asyncio.wait_for(jobs.drain(600.0, hurry=hurry), 30) == ["busy"]
        with pytest.raises(ShuttingDown, match="restarting"):
            jobs.admit(engine.build_request(request_options, user_id=3))
        with pytest.raises(ShuttingDown):
            await engine.submit("late", engine.build_request(request_options, user_id=3))
        await asyncio.sleep(0.1)
        assert executor.entered == ["busy"]  # nothing queued was started while stopping
    async with Engine(settings, executor=ThreadExecutor(settings)) as engine:  # the next start
        for job_id in ("busy", "waiting"):
            record = await asyncio.wait_for(engine.jobs.wait(job_id), RESULT_TIMEOUT)
            assert record.state is JobState.DONE
        assert await engine.jobs.get("late") is None
