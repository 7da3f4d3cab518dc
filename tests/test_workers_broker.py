"""The stream broker under the traps measured on taskiq 0.13 / taskiq-redis 1.2.4, on a real redis-server.

The first test pins the upstream behaviour that services/workers/broker.py exists to fix: if it ever fails,
taskiq-redis reclaims on idle streams by itself and our override can shrink.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from taskiq import AckableMessage
from taskiq_redis import RedisStreamBroker

from services.jobs.models import MusicResult
from services.workers.broker import ReclaimingStreamBroker
from services.workers.wire import Outcome, pack, unpack
from tests.redis_server import RedisServer

STREAM = "test:jobs:sine"


def _ours(url: str, name: str, claim_timeout_s: float = 2.0) -> ReclaimingStreamBroker:
    broker = ReclaimingStreamBroker(
        url, streams=[STREAM], claim_timeout_s=claim_timeout_s, maxlen=1000, consumer_name=name
    )
    broker.is_worker_process = True
    return broker


@contextlib.asynccontextmanager
async def started(broker: Any) -> AsyncIterator[Any]:
    await broker.startup()
    try:
        yield broker
    finally:
        await broker.shutdown()


async def _next(listener: Any, timeout: float) -> AckableMessage | None:
    try:
        return await asyncio.wait_for(anext(listener), timeout)  # type: ignore[no-any-return]
    except TimeoutError:
        return None


async def _kick(broker: Any, payload: bytes) -> None:
    from taskiq.message import BrokerMessage

    await broker.kick(
        BrokerMessage(task_id="t", task_name="x", message=payload, labels={"queue_name": STREAM})
    )


async def test_upstream_broker_never_reclaims_on_an_idle_stream(redis: RedisServer) -> None:
    dead = RedisStreamBroker(
        redis.url,
        queue_name=STREAM,
        consumer_group_name="g",
        consumer_name="dead",
        idle_timeout=300,
        consumer_id="0",
    )
    alive = RedisStreamBroker(
        redis.url,
        queue_name=STREAM,
        consumer_group_name="g",
        consumer_name="alive",
        idle_timeout=300,
        consumer_id="0",
        xread_block=200,
    )
    async with started(dead), started(alive):
        await _kick(dead, b"job-1")
        taken = await _next(dead.listen(), 5)
        assert taken is not None and taken.data == b"job-1"  # read, never acknowledged: its worker "died"
        again = await _next(alive.listen(), 3.0)  # ten times the idle timeout, no new message
    assert again is None


async def test_a_silent_workers_message_is_taken_over_with_no_new_traffic(redis: RedisServer) -> None:
    async with started(_ours(redis.url, "dead")) as dead, started(_ours(redis.url, "alive", 1.0)) as alive:
        await _kick(dead, b"job-1")
        taken = await _next(dead.listen(), 5)
        assert taken is not None
        await dead.shutdown()  # stops renewing: from here on it is a dead worker holding the message
        again = await _next(alive.listen(), 1.0 + 5.0)
        assert again is not None and again.data == b"job-1"
        assert alive.reclaimed == 1
        await again.ack()  # type: ignore[misc]


async def test_a_live_worker_keeps_its_long_job_past_the_claim_timeout(redis: RedisServer) -> None:
    async with started(_ours(redis.url, "busy", 1.0)) as busy, started(_ours(redis.url, "idle", 1.0)) as idle:
        await _kick(busy, b"long-job")
        taken = await _next(busy.listen(), 5)
        assert taken is not None
        stolen = await _next(idle.listen(), 3.5)  # 3.5 claim timeouts: the busy one keeps renewing
        assert stolen is None
        await taken.ack()  # type: ignore[misc]


async def test_a_redis_restart_that_lost_everything_is_waited_out_and_reading_resumes(
    redis: RedisServer,
) -> None:
    async with started(_ours(redis.url, "w")) as broker:
        listener = broker.listen()
        await _kick(broker, b"before")
        first = await _next(listener, 5)
        assert first is not None and first.data == b"before"
        await first.ack()
        pending = asyncio.ensure_future(anext(listener))
        redis.stop()
        await asyncio.sleep(1.5)
        redis.start()  # empty: no stream, no consumer group
        await _kick(broker, b"after")
        after = await asyncio.wait_for(pending, 15)
        assert after.data == b"after"


def _result(job_dir: Path, job_id: str) -> MusicResult:
    job_dir.mkdir(parents=True)
    (job_dir / "piece.mp3").write_bytes(b"ID3mp3")
    (job_dir / "preview.png").write_bytes(b"\x89PNG")
    return MusicResult(
        job_id,
        "t",
        str(job_dir / "piece.mp3"),
        "piece.mp3",
        str(job_dir / "preview.png"),
        None,
        2.0,
        192,
        1,
        "sine",
    )


def test_an_outcome_crosses_machines_with_its_files(tmp_path: Path) -> None:
    worker_results, bot_results = tmp_path / "worker", tmp_path / "bot"
    result = _result(worker_results / "j1", "j1")
    fields = pack(Outcome("done", result=result, worker="w"), worker_results)
    back = unpack(fields, bot_results, "j1")
    assert back.status == "done" and back.result is not None
    assert Path(back.result.mp3_path) == (bot_results / "j1" / "piece.mp3").resolve()
    assert Path(back.result.mp3_path).read_bytes() == b"ID3mp3"
    assert back.result.preview_path is not None and Path(back.result.preview_path).read_bytes() == b"\x89PNG"


def test_a_file_name_that_climbs_out_of_the_job_folder_is_refused(tmp_path: Path) -> None:
    fields = pack(Outcome("done", result=_result(tmp_path / "w" / "j1", "j1")), tmp_path / "w")
    body = json.loads(fields[b"outcome"])
    body["files"] = {path: "../../escape.mp3" for path in body["files"]}
    fields[b"outcome"] = json.dumps(body).encode()
    fields[b"file:../../escape.mp3"] = b"x"
    with pytest.raises(ValueError, match="outside"):
        unpack(fields, tmp_path / "bot", "j1")
    assert not (tmp_path / "escape.mp3").exists()
