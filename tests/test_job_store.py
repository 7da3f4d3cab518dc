"""The SQLite job record: round trips, recovery queries, and the exactly-once delivery claim."""

import asyncio
import sqlite3
import sys
import time
from pathlib import Path

from services.jobs.models import DiscordDelivery, JobRecord, JobState, MusicRequest, MusicResult
from services.jobs.store import DELIVERY_LEASE_S, JobStore


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


async def test_a_claim_left_by_a_closed_owner_is_taken_over_at_once(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with JobStore(path) as first:
        await first.insert(_record("1"))
        await first.mark_done("1", _result("1"))
        assert await first.claim_delivery("1")
    # The process stopped mid-send and never released; a new one need not wait for the lease.
    async with JobStore(path) as second:
        assert await second.claim_delivery("1")
        assert not await second.claim_delivery("1")


async def test_a_claim_left_by_a_crashed_process_is_taken_over_at_once(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with JobStore(path) as store:
        await store.insert(_record("1"))
        await store.mark_done("1", _result("1"))
    crash = (
        "import asyncio, os, sys\n"
        "from services.jobs.store import JobStore\n"
        "async def main():\n"
        "    store = JobStore(sys.argv[1])\n"
        "    await store.open()\n"
        "    assert await store.claim_delivery('1')\n"
        "    os._exit(3)  # no close, no release: what kill -9 mid-upload leaves behind\n"
        "asyncio.run(main())\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", crash, str(path), cwd=Path(__file__).resolve().parent.parent
    )
    assert await proc.wait() == 3
    async with JobStore(path) as store:
        row = await (await store.db.execute("SELECT delivery_owner FROM jobs")).fetchone()
        assert row is not None and row[0] is not None  # the dead process's claim is still recorded
        assert await store.claim_delivery("1")


async def test_a_live_owners_claim_is_protected_until_its_lease_runs_out(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with JobStore(path) as first, JobStore(path) as second:
        await first.insert(_record("1"))
        await first.mark_done("1", _result("1"))
        assert await first.claim_delivery("1")
        assert not await second.claim_delivery("1")
        await second.release_delivery("1")  # not its claim: nothing changes
        assert not await second.claim_delivery("1")
        stale = time.time() - DELIVERY_LEASE_S - 1  # first has been stuck on this claim for too long
        await first.db.execute("UPDATE jobs SET delivering_at=?", (stale,))
        await first.db.commit()
        assert await second.claim_delivery("1")
        assert not await first.claim_delivery("1")
        await second.mark_delivered("1")
        assert not await first.claim_delivery("1") and not await second.claim_delivery("1")


async def test_undelivered_covers_failures_and_cancellations_until_given_up(tmp_path: Path) -> None:
    async with JobStore(tmp_path / "db.sqlite3") as store:
        for job in ("done", "failed", "cancelled", "cli"):
            record = _record(job)
            if job == "cli":
                record = JobRecord(job, record.request, JobState.QUEUED, time.time())  # no Discord delivery
            await store.insert(record)
        await store.mark_done("done", _result("done"))
        await store.mark_done("cli", _result("cli"))
        await store.mark_failed("failed", "Something went wrong.", "ABC123")
        await store.mark_failed("cancelled", "Cancelled.", None, cancelled=True)
        assert [r.job_id for r in await store.undelivered()] == ["done", "failed", "cancelled"]
        await store.mark_delivered("failed", failure="gave up after 24 h: 503 Service Unavailable")
        assert [r.job_id for r in await store.undelivered()] == ["done", "cancelled"]
        given_up = await store.get("failed")
        assert given_up is not None and given_up.delivered
        assert given_up.delivery_error == "gave up after 24 h: 503 Service Unavailable"


async def test_a_database_from_before_delivery_owners_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with sqlite3.connect(path) as db:  # the jobs table as the first release made it
        db.executescript(
            "CREATE TABLE jobs (job_id TEXT PRIMARY KEY, user_id INTEGER NOT NULL, guild_id INTEGER, "
            "request TEXT NOT NULL, state TEXT NOT NULL, created_at REAL NOT NULL, started_at REAL, "
            "finished_at REAL, delivery TEXT, result TEXT, error TEXT, error_id TEXT, "
            "delivered INTEGER NOT NULL DEFAULT 0, delivering_at REAL, attempts INTEGER NOT NULL DEFAULT 0);"
        )
    async with JobStore(path) as store:
        await store.insert(_record("1"))
        await store.mark_done("1", _result("1"))
        assert await store.claim_delivery("1")
        await store.mark_delivered("1", failure="test")
        got = await store.get("1")
        assert got is not None and got.delivered and got.delivery_error == "test"
