"""The SQLite job record: round trips, recovery queries, and the exactly-once delivery claim."""

import time
from pathlib import Path

from services.jobs.models import DiscordDelivery, JobRecord, JobState, MusicRequest, MusicResult
from services.jobs.store import JobStore


def _record(job_id: str, user: int = 1) -> JobRecord:
    request = MusicRequest(
        prompt="sunny folk", user_id=user, seed=42, duration_s=12.0, bpm=96.0, key="A major"
    )
    delivery = DiscordDelivery(
        application_id=5, interaction_token="tok", token_expires_at=time.time() + 900, channel_id=7
    )
    return JobRecord(job_id, request, JobState.QUEUED, time.time(), delivery=delivery)


def _result(job_id: str) -> MusicResult:
    return MusicResult(
        job_id=job_id,
        title="Sunny folk",
        mp3_path="/x.mp3",
        mp3_filename="sunny-folk.mp3",
        preview_path=None,
        midi_path=None,
        duration_s=12.0,
        bitrate_kbps=192,
        seed=42,
        backend="styles",
        tags=("folk",),
        summary=("tempo: 96 bpm",),
    )


async def test_insert_is_idempotent_and_round_trips(tmp_path: Path) -> None:
    async with JobStore(tmp_path / "db.sqlite3") as store:
        assert await store.insert(_record("1"))
        assert not await store.insert(_record("1"))
        got = await store.get("1")
        assert got is not None
        assert got.request == _record("1").request
        assert got.delivery is not None and got.delivery.channel_id == 7
        assert got.state is JobState.QUEUED


async def test_unfinished_and_undelivered_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with JobStore(path) as store:
        for job in ("1", "2", "3"):
            await store.insert(_record(job))
        await store.mark_running("2")
        await store.mark_done("3", _result("3"))
    async with JobStore(path) as store:
        assert [r.job_id for r in await store.unfinished()] == ["1", "2"]
        undelivered = await store.undelivered()
        assert [r.job_id for r in undelivered] == ["3"]
        assert undelivered[0].result == _result("3")
        running = await store.get("2")
        assert running is not None and running.attempts == 1


async def test_delivery_claim_is_exclusive_until_released_or_acknowledged(tmp_path: Path) -> None:
    async with JobStore(tmp_path / "db.sqlite3") as store:
        await store.insert(_record("1"))
        await store.mark_done("1", _result("1"))
        assert await store.claim_delivery("1")
        assert not await store.claim_delivery("1")
        await store.release_delivery("1")
        assert await store.claim_delivery("1")
        await store.mark_delivered("1")
        assert not await store.claim_delivery("1")
        assert await store.undelivered() == []
