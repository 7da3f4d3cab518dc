"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakediscord import FakeDiscord


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A running fake Discord with discord.py pointed at it (restored afterwards); heartbeats every 1 s."""
    async with FakeDiscord(heartbeat_interval=1.0) as fd:
        with fd.patch_discord_py():
            yield fd


# --- promptjam bot harness -------------------------------------------------------------------------

import asyncio  # noqa: E402
import contextlib  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from bot.client import PromptJamBot  # noqa: E402
from services.jobs.executors import Executor  # noqa: E402
from services.settings import Settings  # noqa: E402


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for tests: isolated from any .env and the environment's data folder, thread workers."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "worker_mode": "thread",
        "progress_interval_s": 0.3,
        "default_duration_s": 6,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        return make_settings(tmp_path / "data", **overrides)

    return factory


class BotUnderTest(PromptJamBot):
    """The real bot, minus discord.py's 5 s pause before re-identifying (Discord's rate limit, not ours)."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


@contextlib.asynccontextmanager
async def running_bot(
    fd: FakeDiscord, settings: Settings, *, executor: Executor | None = None
) -> AsyncIterator[PromptJamBot]:
    """Start the real promptjam bot against the fake Discord; wait for its commands; always close it."""
    identified = fd.gateway.identifies
    bot = BotUnderTest(settings, executor=executor, guild_ready_timeout=0.05)
    task = asyncio.create_task(bot.start(fd.bot_token))
    try:
        # discord.py runs setup_hook (engine, cogs, a command sync when they changed) before it
        # identifies, so a new IDENTIFY means the bot is set up; its commands are on the fake Discord,
        # synced now or by an earlier start from the same data folder.
        await fd.wait_identifies(identified + 1, timeout=90)
        assert bot.set_up
        await fd.wait_ready(timeout=30)
        yield bot
    finally:
        await bot.close()
        with contextlib.suppress(Exception):
            await task


from services.backends.base import Cancelled  # noqa: E402
from services.jobs.executors import OnProgress, ThreadExecutor  # noqa: E402
from services.jobs.models import MusicRequest, MusicResult  # noqa: E402


class GatedExecutor(ThreadExecutor):
    """The real thread executor, holding each job at a gate first, so a test can see jobs queued and running.

    Only the timing is controlled: once the gate opens, the real backend makes the music.
    """

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.gate = asyncio.Event()
        self.entered: list[str] = []
        self._stops: dict[str, asyncio.Event] = {}

    async def run(self, job_id: str, request: MusicRequest, on_progress: OnProgress) -> MusicResult:
        self.entered.append(job_id)
        stop = self._stops.setdefault(job_id, asyncio.Event())
        on_progress("waiting at the test gate", 0, 1)
        gate = asyncio.ensure_future(self.gate.wait())
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({gate, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gate.cancel()
            stopped.cancel()
        if stop.is_set():
            raise Cancelled()
        return await super().run(job_id, request, on_progress)

    def cancel(self, job_id: str) -> None:
        self._stops.setdefault(job_id, asyncio.Event()).set()
        super().cancel(job_id)


# --- workers on other machines ---------------------------------------------------------------------

from collections.abc import Iterator  # noqa: E402

from tests.redis_server import RedisServer  # noqa: E402


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server of this test's own: loopback, a free port, no persistence."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sine() -> Iterator[None]:
    """The test-only sine backend (tests/sine_backend.py), registered for this test only."""
    from services.backends.registry import register, unregister
    from tests.sine_backend import sine_record

    register(sine_record())
    try:
        yield
    finally:
        unregister("sine")
