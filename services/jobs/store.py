"""SQLite record of every job, so a restart loses nothing.

The database is the record even when the queue lives in memory: on start-up the
service reads back queued and interrupted jobs and finished-but-undelivered ones.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from dataclasses import asdict
from pathlib import Path
from typing import Any

from services.jobs.models import DiscordDelivery, JobRecord, JobState, MusicRequest, MusicResult
from services.jobs.owners import Owners
from services.storage.base import SqliteStore
from services.storage.migrations import Migration, add_columns, statements

# The jobs table as the first release made it; every change since is a migration below.
_FIRST_RELEASE = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id        TEXT PRIMARY KEY,
    user_id       INTEGER NOT NULL,
    guild_id      INTEGER,
    request       TEXT NOT NULL,
    state         TEXT NOT NULL,
    created_at    REAL NOT NULL,
    started_at    REAL,
    finished_at   REAL,
    delivery      TEXT,
    result        TEXT,
    error         TEXT,
    error_id      TEXT,
    delivered     INTEGER NOT NULL DEFAULT 0,
    delivering_at REAL,
    attempts      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created_at);
CREATE INDEX IF NOT EXISTS jobs_user ON jobs (user_id, created_at);
"""

MIGRATIONS = (
    Migration(1, "jobs as the first release made them", statements(_FIRST_RELEASE)),
    Migration(
        2,
        "error_values: what fills a failure reason's {placeholders} (untrusted, escaped where shown)",
        (add_columns("jobs", error_values="TEXT"),),
    ),
    Migration(
        3,
        "delivery claims name their owner; why an outcome could never be posted",
        (add_columns("jobs", delivery_owner="TEXT", delivery_error="TEXT"),),
    ),
    Migration(
        4,
        "jobs_finished: retention finds old finished jobs without reading every row",
        ("CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (finished_at)",),
    ),
)

_FINISHED = (JobState.DONE.value, JobState.FAILED.value, JobState.CANCELLED.value)

# A delivery claim older than this is free even if its owner looks alive (stuck, or an owner whose liveness
# cannot be checked). One delivery attempt is bounded well below it (DELIVERY_ATTEMPT_TIMEOUT_S).
DELIVERY_LEASE_S = 120.0


class JobStore(SqliteStore):
    """Async access to the jobs table. Use as `async with JobStore(path) as store:`."""

    name = "jobs"
    migrations = MIGRATIONS

    def __init__(self, path: Path | str) -> None:
        super().__init__(path)
        # Delivery claims name this store's owner; lock files beside the database tell live owners from dead.
        memory = str(path) == ":memory:"
        self.owners = Owners(None if memory else self.path.with_name(self.path.name + ".owners"))

    async def _opened(self) -> None:
        self.owners.start()

    async def close(self) -> None:
        self.owners.stop()
        await super().close()

    # --- writes ------------------------------------------------------------------------------

    async def insert(self, record: JobRecord) -> bool:
        """Insert a new job; False if a job with this id already exists (idempotent submit)."""
        cur = await self.db.execute(
            "INSERT OR IGNORE INTO jobs (job_id, user_id, guild_id, request, state, created_at, delivery) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                record.job_id,
                record.request.user_id,
                record.request.guild_id,
                record.request.to_json(),
                record.state.value,
                record.created_at,
                json.dumps(asdict(record.delivery)) if record.delivery else None,
            ),
        )
        await self.db.commit()
        return cur.rowcount == 1

    async def mark_running(self, job_id: str) -> None:
        await self.db.execute(
            "UPDATE jobs SET state=?, started_at=?, attempts=attempts+1 WHERE job_id=?",
            (JobState.RUNNING.value, time.time(), job_id),
        )
        await self.db.commit()

    async def give_back_attempt(self, job_id: str) -> None:
        """A clean shutdown interrupted this job: that start was not the job's doing, so it does not count
        towards JOB_MAX_ATTEMPTS (only starts that ended with the process dying do)."""
        await self.db.execute(
            "UPDATE jobs SET attempts=MAX(attempts-1, 0) WHERE job_id=? AND state=?",
            (job_id, JobState.RUNNING.value),
        )
        await self.db.commit()

    async def mark_queued(self, job_id: str) -> None:
        await self.db.execute("UPDATE jobs SET state=? WHERE job_id=?", (JobState.QUEUED.value, job_id))
        await self.db.commit()

    async def mark_fetched(self, job_id: str, request: MusicRequest) -> bool:
        """A fetching job's attachment is staged: store the request that points at it and queue the job.
        False when the job is no longer fetching (cancelled meanwhile)."""
        cur = await self.db.execute(
            "UPDATE jobs SET request=?, state=? WHERE job_id=? AND state=?",
            (request.to_json(), JobState.QUEUED.value, job_id, JobState.FETCHING.value),
        )
        await self.db.commit()
        return cur.rowcount == 1

    async def mark_done(self, job_id: str, result: MusicResult) -> None:
        await self.db.execute(
            "UPDATE jobs SET state=?, finished_at=?, result=? WHERE job_id=?",
            (JobState.DONE.value, time.time(), result.to_json(), job_id),
        )
        await self.db.commit()

    async def mark_failed(
        self,
        job_id: str,
        reason: str,
        error_id: str | None,
        *,
        cancelled: bool = False,
        values: dict[str, str] | None = None,
    ) -> None:
        state = JobState.CANCELLED if cancelled else JobState.FAILED
        await self.db.execute(
            "UPDATE jobs SET state=?, finished_at=?, error=?, error_values=?, error_id=? WHERE job_id=?",
            (state.value, time.time(), reason, json.dumps(values) if values else None, error_id, job_id),
        )
        await self.db.commit()

    async def update_delivery(self, job_id: str, delivery: DiscordDelivery) -> None:
        await self.db.execute(
            "UPDATE jobs SET delivery=? WHERE job_id=?", (json.dumps(asdict(delivery)), job_id)
        )
        await self.db.commit()

    async def claim_delivery(self, job_id: str) -> bool:
        """Atomically claim the right to post this job's outcome for this owner.

        False if it was delivered, or another claim holds it: any claim of ours, or another owner's that is
        alive and within its lease. A dead owner's claim is taken over at once.
        """
        async with self.db.execute(
            "SELECT delivered, delivering_at, delivery_owner FROM jobs WHERE job_id=?", (job_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is None or row["delivered"]:
            return False
        now = time.time()
        held_at, holder = row["delivering_at"], row["delivery_owner"]
        if held_at is not None and held_at >= now - DELIVERY_LEASE_S:
            if holder == self.owners.me or self.owners.alive(holder):
                return False
        # Compare-and-set on what we read: of two processes taking over the same claim, one wins.
        cur = await self.db.execute(
            "UPDATE jobs SET delivering_at=?, delivery_owner=? WHERE job_id=? AND delivered=0 "
            "AND delivering_at IS ? AND delivery_owner IS ?",
            (now, self.owners.me, job_id, held_at, holder),
        )
        await self.db.commit()
        return cur.rowcount == 1

    async def release_delivery(self, job_id: str) -> None:
        """Give our claim back after a failed send, so a later attempt (ours or another's) may deliver."""
        await self.db.execute(
            "UPDATE jobs SET delivering_at=NULL, delivery_owner=NULL WHERE job_id=? AND delivery_owner IS ?",
            (job_id, self.owners.me),
        )
        await self.db.commit()

    async def mark_delivered(self, job_id: str, failure: str | None = None) -> None:
        """Never post this job again: it arrived, or (`failure` says why) it never can."""
        await self.db.execute(
            "UPDATE jobs SET delivered=1, delivering_at=NULL, delivery_owner=NULL, delivery_error=? "
            "WHERE job_id=?",
            (failure, job_id),
        )
        await self.db.commit()

    # --- reads -------------------------------------------------------------------------------

    async def get(self, job_id: str) -> JobRecord | None:
        async with self.db.execute("SELECT * FROM jobs WHERE job_id=?", (job_id,)) as cur:
            row = await cur.fetchone()
        return _row_to_record(row) if row else None

    async def unfinished(self) -> list[JobRecord]:
        """Fetching, queued or running jobs, oldest first: what a restart must resume."""
        async with self.db.execute(
            "SELECT * FROM jobs WHERE state IN (?, ?, ?) ORDER BY created_at",
            (JobState.FETCHING.value, JobState.QUEUED.value, JobState.RUNNING.value),
        ) as cur:
            rows = await cur.fetchall()
        return [_row_to_record(r) for r in rows]

    async def undelivered(self) -> list[JobRecord]:
        """Finished Discord jobs (results, failures, cancellations) whose outcome never reached the user."""
        async with self.db.execute(
            "SELECT * FROM jobs WHERE state IN (?, ?, ?) AND delivered=0 AND delivery IS NOT NULL "
            "ORDER BY created_at",
            _FINISHED,
        ) as cur:
            rows = await cur.fetchall()
        return [_row_to_record(r) for r in rows]

    async def recent_for_user(self, user_id: int, limit: int = 10) -> list[JobRecord]:
        async with self.db.execute(
            "SELECT * FROM jobs WHERE user_id=? ORDER BY created_at DESC LIMIT ?", (user_id, limit)
        ) as cur:
            rows = await cur.fetchall()
        return [_row_to_record(r) for r in rows]

    async def states(self, job_ids: Collection[str]) -> dict[str, tuple[JobState, float | None]]:
        """State and finish time of each of these jobs that has a row (retention asks about folders)."""
        ids = list(job_ids)
        found: dict[str, tuple[JobState, float | None]] = {}
        for start in range(0, len(ids), 500):  # well inside SQLite's limit on bound parameters
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            async with self.db.execute(
                f"SELECT job_id, state, finished_at FROM jobs WHERE job_id IN ({marks})", chunk
            ) as cur:
                for row in await cur.fetchall():
                    found[row["job_id"]] = (JobState(row["state"]), row["finished_at"])
        return found

    # --- retention ---------------------------------------------------------------------------

    async def prune_finished(self, cutoff: float) -> int:
        """Delete jobs that finished before `cutoff` and need nothing more: delivered, given up, or never
        meant for Discord. Unfinished jobs and outcomes still to post are never deleted. Returns how many."""
        marks = ",".join("?" * len(_FINISHED))
        cur = await self.db.execute(
            f"DELETE FROM jobs WHERE state IN ({marks}) AND finished_at < ? "
            "AND (delivered=1 OR delivery IS NULL)",
            (*_FINISHED, cutoff),
        )
        await self.db.commit()
        return cur.rowcount

    async def finished_before(self, cutoff: float) -> list[JobRecord]:
        async with self.db.execute(
            "SELECT * FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ? AND result IS NOT NULL",
            (cutoff,),
        ) as cur:
            rows = await cur.fetchall()
        return [_row_to_record(r) for r in rows]


def _row_to_record(row: Any) -> JobRecord:
    delivery = DiscordDelivery(**json.loads(row["delivery"])) if row["delivery"] else None
    return JobRecord(
        job_id=row["job_id"],
        request=MusicRequest.from_json(row["request"]),
        state=JobState(row["state"]),
        created_at=row["created_at"],
        delivery=delivery,
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        result=MusicResult.from_json(row["result"]) if row["result"] else None,
        error=row["error"],
        error_values=json.loads(row["error_values"]) if row["error_values"] else {},
        error_id=row["error_id"],
        delivered=bool(row["delivered"]),
        delivery_error=row["delivery_error"],
        attempts=row["attempts"],
    )
