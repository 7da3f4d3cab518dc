"""The job service through the engine: fairness, limits, timeouts, error ids, worker processes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cogs.formatting import failure_content
from services.engine import Engine, RequestOptions
from services.errors import RateLimited, UnknownJob
from services.jobs.executors import ProcessExecutor, ThreadExecutor
from services.jobs.models import JobEvent, JobRecord, JobState, MusicRequest
from services.jobs.store import JobStore
from services.settings import Settings
from tests.conftest import GatedExecutor


async def _events_until_done(engine: Engine, job_id: str, q: asyncio.Queue[JobEvent]) -> list[JobEvent]:
    seen = []
    while True:
        event = await asyncio.wait_for(q.get(), 60)
        if event.job_id != job_id:
            continue
        seen.append(event)
        if event.kind in ("done", "failed", "cancelled"):
            return seen


async def test_users_take_turns(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(per_user_queued_jobs=10, user_jobs_per_minute=100)
    executor = GatedExecutor(settings)
    async with Engine(settings, executor=executor) as engine:
        jobs = engine.jobs
        await engine.submit("a0", engine.build_request(RequestOptions("calm piano", duration_s=2), user_id=1))
        while executor.entered != ["a0"]:
            await asyncio.sleep(0.01)
        for i in range(1, 3):
            await engine.submit(
                f"a{i}", engine.build_request(RequestOptions("calm piano", duration_s=2), user_id=1)
            )
        await engine.submit("b0", engine.build_request(RequestOptions("calm piano", duration_s=2), user_id=2))
        assert jobs.position_of("b0") == 1  # a0 runs; bob is next, before alice's second
        executor.gate.set()
        for job in ("a0", "a1", "a2", "b0"):
            await jobs.wait(job)
        assert executor.entered == ["a0", "b0", "a1", "a2"]


async def test_submit_is_idempotent_and_rate_limited(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(user_jobs_per_minute=2, per_user_queued_jobs=10)
    async with Engine(settings, executor=GatedExecutor(settings)) as engine:
        req = engine.build_request(RequestOptions("calm piano", duration_s=2), user_id=1)
        first = await engine.submit("j1", req)
        again = await engine.submit("j1", req)
        assert again.job_id == first.job_id and engine.jobs.queue_length() == 1
        await engine.submit("j2", req)
        with pytest.raises(RateLimited, match="try again in"):
            await engine.submit("j3", req)


async def test_a_job_that_runs_too_long_is_stopped_and_reported(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(job_timeout_s=1)
    async with Engine(settings, executor=GatedExecutor(settings)) as engine:  # the gate never opens
        await engine.submit("slow", engine.build_request(RequestOptions("calm piano"), user_id=1))
        record = await asyncio.wait_for(engine.jobs.wait("slow"), 30)
        assert record.state is JobState.FAILED
        assert record.error is not None and "longer than 1 s" in record.error


async def test_an_unexpected_failure_gets_an_error_id_that_is_logged(
    settings_factory: Callable[..., Settings], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "broken.sf2"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00not a soundfont")
    settings = settings_factory(soundfont_path=broken)
    async with Engine(settings, executor=ThreadExecutor(settings)) as engine:
        q = engine.jobs.subscribe()
        await engine.submit(
            "bad", engine.build_request(RequestOptions("calm piano", duration_s=2), user_id=1)
        )
        with caplog.at_level(logging.ERROR):
            events = await _events_until_done(engine, "bad", q)
        failed = events[-1]
        assert failed.kind == "failed" and failed.error_id
        assert "went wrong" in failed.message and "Traceback" not in failed.message
        assert any(
            failed.error_id in r.getMessage() and "Traceback" in r.getMessage() for r in caplog.records
        )


async def test_a_plain_value_error_shows_an_error_id_not_its_text(
    settings_factory: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    """A ValueError is a bug, and its text is Python's: the user reads the generic sentence with an error
    id, and the log holds the text and the traceback under that id."""
    settings = settings_factory()
    async with Engine(settings, executor=ThreadExecutor(settings)) as engine:
        q = engine.jobs.subscribe()
        checked = engine.build_request(RequestOptions("calm piano", duration_s=2), user_id=1)
        # a request that skipped build_request's checks: the styles interpreter raises ValueError on it
        await engine.submit("unchecked", checked.derive(bpm=1000.0))
        with caplog.at_level(logging.ERROR):
            events = await _events_until_done(engine, "unchecked", q)
        record = await engine.jobs.get("unchecked")
    failed = events[-1]
    assert failed.kind == "failed" and failed.error_id
    assert failed.message == "Something went wrong while making this piece."
    assert record is not None
    shown = failure_content(record)
    assert f"error id `{failed.error_id}`" in shown and "1000" not in shown and "bpm must" not in shown
    assert any(
        failed.error_id in r.getMessage() and "ValueError: bpm must be between 20 and 300" in r.getMessage()
        for r in caplog.records
    )


async def test_worker_processes_make_music_report_progress_and_survive_a_cancel(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(worker_mode="process", per_user_queued_jobs=10, user_jobs_per_minute=100)
    async with Engine(settings, executor=ProcessExecutor(settings, warm=())) as engine:
        jobs = engine.jobs
        q = jobs.subscribe()
        await engine.submit(
            "p1", engine.build_request(RequestOptions("funky disco", duration_s=4), user_id=1)
        )
        events = await _events_until_done(engine, "p1", q)
        assert events[-1].kind == "done", events[-1]
        assert any(e.kind == "progress" and e.total for e in events)
        record = await jobs.get("p1")
        assert record is not None and record.result is not None
        assert Path(record.result.mp3_path).read_bytes()[:3] == b"ID3"

        # Cancel a running job: its worker is killed and replaced; the next job still works.
        await engine.submit("p2", engine.build_request(RequestOptions("ambient", duration_s=120), user_id=1))
        while True:
            event = await asyncio.wait_for(q.get(), 60)
            if event.job_id == "p2" and event.kind in ("started", "progress"):
                break
        await jobs.cancel("p2", user_id=1)
        assert (await asyncio.wait_for(jobs.wait("p2"), 30)).state is JobState.CANCELLED
        await engine.submit("p3", engine.build_request(RequestOptions("calm piano", duration_s=3), user_id=1))
        assert (await asyncio.wait_for(jobs.wait("p3"), 60)).state is JobState.DONE

        with pytest.raises(UnknownJob):
            await jobs.cancel("p3", user_id=1)  # finished jobs can't be cancelled


async def _record_running_job(path: Path, job_id: str, *, attempts: int, user_id: int = 1) -> None:
    """A job as a process that died while making it leaves it: RUNNING, started `attempts` times."""
    request = MusicRequest(prompt="calm piano", user_id=user_id, seed=5, duration_s=2.0)
    async with JobStore(path) as store:
        await store.insert(JobRecord(job_id, request, JobState.QUEUED, time.time()))
        for _ in range(attempts):
            await store.mark_running(job_id)  # each start counts one attempt; nothing ever finished it


async def test_a_job_that_stopped_the_bot_too_often_is_failed_not_resumed(
    settings_factory: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_factory(job_max_attempts=3, per_user_queued_jobs=10)
    await _record_running_job(settings.database_file, "crasher", attempts=3)
    await _record_running_job(settings.database_file, "unlucky", attempts=2, user_id=2)
    executor = GatedExecutor(settings)
    with caplog.at_level(logging.ERROR, logger="services.jobs.service"):
        async with Engine(settings, executor=executor) as engine:
            jobs = engine.jobs
            failed = await jobs.get("crasher")
            assert failed is not None and failed.state is JobState.FAILED
            assert failed.error == (
                "This piece stopped the bot 3 times while it was being made, so I gave up on it."
            )
            assert failed.error_id
            assert [r.job_id for r in await jobs.undelivered()] == []  # no Discord delivery on this one
            while executor.entered != ["unlucky"]:  # below the cap: resumed as before
                await asyncio.sleep(0.01)
            assert "crasher" not in executor.entered
    assert any(
        r.levelno == logging.ERROR and "crasher" in r.getMessage() and failed.error_id in r.getMessage()
        for r in caplog.records
    )


async def test_a_clean_shutdown_does_not_count_as_an_attempt(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(job_max_attempts=1)
    for _ in range(3):  # three clean restarts in the middle of making it; the cap is one start
        executor = GatedExecutor(settings)
        async with Engine(settings, executor=executor) as engine:
            if await engine.jobs.get("j") is None:
                await engine.submit(
                    "j", engine.build_request(RequestOptions("calm piano", duration_s=2), user_id=1)
                )
            while executor.entered != ["j"]:
                await asyncio.sleep(0.01)
        async with JobStore(settings.database_file) as store:
            record = await store.get("j")
            assert record is not None and record.state is JobState.RUNNING and record.attempts == 0
    executor = GatedExecutor(settings)
    async with Engine(settings, executor=executor) as engine:
        while executor.entered != ["j"]:  # resumed once more, not given up
            await asyncio.sleep(0.01)
        record = await engine.jobs.store.get("j")
        assert record is not None and record.state is JobState.RUNNING and record.attempts == 1
