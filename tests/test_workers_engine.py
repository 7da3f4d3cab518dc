"""Workers on other machines at the engine seam: a worker in this process (so a test can look inside it),
the real Engine with REDIS_URL set, a real redis-server. Batching across users, attachments that travel
with the job, cancels, and results that expire."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from services.audio.mp3 import decode_audio
from services.backends.base import STEMS, SongRequest
from services.backends.registry import get_backend, register, unregister
from services.engine import Engine, RequestOptions
from services.inputs import stage_input
from services.jobs.models import JobState
from services.settings import Settings
from services.workers.connection import connect
from services.workers.keys import RedisKeys
from services.workers.worker import Worker, plan_worker
from tests.conftest import make_settings
from tests.redis_server import RedisServer
from tests.sine_backend import sine_record
from tests.tiny_models import build_tiny_model, wav_bytes

TIMEOUT = 120


@contextlib.asynccontextmanager
async def serving(settings: Settings, backends: tuple[str, ...], concurrency: int) -> AsyncIterator[Worker]:
    worker = Worker(settings, plan_worker(settings, backends, concurrency))
    stop = asyncio.Event()
    task = asyncio.create_task(worker.serve(stop))
    try:
        yield worker
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def _sees(engine: Engine, backend: str) -> None:
    for _ in range(400):
        if engine.backend_status(backend).available:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the engine never saw a worker for {backend}: {engine.backend_status(backend)}")


async def test_jobs_of_many_users_share_one_pipeline_call_in_the_worker_that_owns_the_model(
    redis: RedisServer, tmp_path: Path
) -> None:
    model = build_tiny_model(tmp_path / "tiny-riffusion")
    common: dict[str, Any] = {"riffusion_model": str(model), "riffusion_steps": 2, "redis_url": redis.url}
    worker_settings = make_settings(tmp_path / "worker", riffusion_batch_wait_ms=500, **common)
    bot_settings = make_settings(tmp_path / "bot", remote_backends=("riffusion",), **common)
    async with serving(worker_settings, ("riffusion",), 4) as worker, Engine(bot_settings) as engine:
        await _sees(engine, "riffusion")
        batcher = get_backend("riffusion", worker.settings).batcher()  # type: ignore[attr-defined]
        before = batcher.batches_run
        ids = []
        for user in range(1, 5):  # four users, one short piece each: one 5.11 s window apiece
            request = engine.build_request(
                RequestOptions("warm synth pads", backend="riffusion", duration_s=5, seed=user), user_id=user
            )
            await engine.submit(f"r{user}", request)
            ids.append(f"r{user}")
        records = [await asyncio.wait_for(engine.jobs.wait(i), TIMEOUT) for i in ids]
    assert all(r.state is JobState.DONE for r in records), [r.error_text() for r in records]
    assert batcher.batches_run - before < 4  # grouped: fewer pipeline calls than jobs
    for record in records:
        assert record.result is not None
        mp3 = Path(record.result.mp3_path)
        assert mp3.is_file() and mp3.is_relative_to(bot_settings.results_dir)  # the bot's own copy
    assert not any((worker_settings.results_dir).glob("r*/*.mp3"))  # the worker kept nothing


async def test_an_attachment_travels_with_its_job_to_the_worker(redis: RedisServer, tmp_path: Path) -> None:
    model = build_tiny_model(tmp_path / "tiny-riffusion")
    common: dict[str, Any] = {"riffusion_model": str(model), "riffusion_steps": 2, "redis_url": redis.url}
    worker_settings = make_settings(tmp_path / "worker", **common)
    bot_settings = make_settings(tmp_path / "bot", remote_backends=("riffusion",), **common)
    async with serving(worker_settings, ("riffusion",), 1), Engine(bot_settings) as engine:
        await _sees(engine, "riffusion")
        path = stage_input(bot_settings.inputs_dir, "a1", wav_bytes(3.0))
        request = engine.build_request(
            RequestOptions(
                "make it jazzy",
                backend="riffusion",
                input_path=path,
                input_name="hum.wav",
                input_kind="audio",
            ),
            user_id=1,
        )
        await engine.submit("a1", request)
        record = await asyncio.wait_for(engine.jobs.wait("a1"), TIMEOUT)
    assert record.state is JobState.DONE, record.error_text()
    assert not (worker_settings.inputs_dir / "a1").exists()  # staged on the worker for the job, then deleted


async def test_cancelling_a_piece_a_worker_is_making_stops_it_there(
    redis: RedisServer, tmp_path: Path
) -> None:
    register(sine_record(step_s=0.2, steps=100))  # 20 s unless stopped
    try:
        worker_settings = make_settings(tmp_path / "worker", redis_url=redis.url)
        bot_settings = make_settings(tmp_path / "bot", redis_url=redis.url, remote_backends=("sine",))
        async with serving(worker_settings, ("sine",), 1) as worker, Engine(bot_settings) as engine:
            await _sees(engine, "sine")
            request = engine.build_request(RequestOptions("a tone", backend="sine", duration_s=2), user_id=7)
            await engine.submit("c1", request)
            for _ in range(200):
                if "c1" in worker.running:
                    break
                await asyncio.sleep(0.05)
            assert "c1" in worker.running
            await engine.cancel("c1", 7)
            record = await asyncio.wait_for(engine.jobs.wait("c1"), 15)
            assert record.state is JobState.CANCELLED
            for _ in range(100):
                if "c1" not in worker.running:
                    break
                await asyncio.sleep(0.05)
            assert "c1" not in worker.running  # the worker stopped making it, well before its 20 s
    finally:
        unregister("sine")


async def test_everything_a_job_leaves_in_redis_expires(redis: RedisServer, tmp_path: Path) -> None:
    register(sine_record())
    try:
        worker_settings = make_settings(tmp_path / "worker", redis_url=redis.url)
        bot_settings = make_settings(
            tmp_path / "bot", redis_url=redis.url, remote_backends=("sine",), redis_result_ttl_s=120
        )
        async with serving(worker_settings, ("sine",), 1), Engine(bot_settings) as engine:
            await _sees(engine, "sine")
            request = engine.build_request(RequestOptions("a tone", backend="sine", duration_s=2), user_id=7)
            await engine.submit("e1", request)
            record = await asyncio.wait_for(engine.jobs.wait("e1"), TIMEOUT)
            assert record.state is JobState.DONE
            client = connect(redis.url)
            try:
                keys = RedisKeys(bot_settings.redis_prefix)
                for key in [k async for k in client.scan_iter(match=f"{keys.prefix}:*e1*")]:
                    assert 0 < await client.ttl(key) <= 3600, key  # nothing stays for ever
                assert (
                    await client.exists(keys.outcome("e1")) == 0
                )  # the files left Redis once the bot had them
                for stream in (keys.events, keys.jobs("sine")):
                    assert await client.xlen(stream) <= bot_settings.redis_stream_maxlen
            finally:
                await client.aclose()
    finally:
        unregister("sine")


async def test_a_piece_too_slow_on_its_worker_is_stopped_there_and_said_so(
    redis: RedisServer, tmp_path: Path
) -> None:
    register(sine_record(step_s=0.2, steps=100))  # 20 s; JOB_TIMEOUT_S is 2 s
    try:
        worker_settings = make_settings(tmp_path / "worker", redis_url=redis.url)
        bot_settings = make_settings(
            tmp_path / "bot", redis_url=redis.url, remote_backends=("sine",), job_timeout_s=2
        )
        async with serving(worker_settings, ("sine",), 1) as worker, Engine(bot_settings) as engine:
            await _sees(engine, "sine")
            request = engine.build_request(RequestOptions("a tone", backend="sine", duration_s=2), user_id=7)
            await engine.submit("t1", request)
            record = await asyncio.wait_for(engine.jobs.wait("t1"), 30)
            assert record.state is JobState.FAILED
            assert "took longer than 2 s" in (record.error_text() or "")
            for _ in range(100):
                if "t1" not in worker.running:
                    break
                await asyncio.sleep(0.05)
            assert "t1" not in worker.running  # stopped on the worker too, not left burning its GPU
    finally:
        unregister("sine")


async def test_a_song_and_its_stems_are_made_on_a_worker(redis: RedisServer, tmp_path: Path) -> None:
    """The song backend like every model backend: a song made on a worker, then its Stems job, whose
    input is the song's MP3 on the bot's disk (it travels to the worker) and whose four MP3s come back."""
    from tests.tiny_models import build_tiny_song_model

    model = build_tiny_song_model(tmp_path / "tiny-ace-step")
    common: dict[str, Any] = {
        "acestep_model": str(model),
        "correct_to_stated": False,  # random weights have no tempo worth correcting
        "acestep_steps": 2,
        "acestep_batch_wait_ms": 0,
        "redis_url": redis.url,
    }
    worker_settings = make_settings(tmp_path / "worker", **common)
    bot_settings = make_settings(tmp_path / "bot", remote_backends=("song",), **common)
    async with serving(worker_settings, ("song",), 1), Engine(bot_settings) as engine:
        await _sees(engine, "song")
        request = engine.build_request(
            RequestOptions(
                "warm folk, 90 bpm",
                backend="song",
                duration_s=10,
                seed=4,
                song=SongRequest(lyrics="[verse]\nhello hills"),
            ),
            user_id=1,
        )
        await engine.submit("s1", request)
        song = await asyncio.wait_for(engine.jobs.wait("s1"), TIMEOUT)
        assert song.state is JobState.DONE, song.error_text()
        stems = await engine.derive_song("s1", "stems", user_id=1, upload_limit_bytes=10 * 2**20)
        await engine.submit("s2", stems)
        split = await asyncio.wait_for(engine.jobs.wait("s2"), TIMEOUT)
    assert split.state is JobState.DONE, split.error_text()
    assert song.result is not None and song.result.lyrics == "[verse]\nhello hills"
    assert split.result is not None and [name for name, _ in split.result.stems] == list(STEMS)
    for _, path in split.result.stems:
        assert Path(path).is_relative_to(bot_settings.results_dir)  # the bot's own copies
        assert abs(decode_audio(Path(path).read_bytes()).duration - 10) <= 0.5
