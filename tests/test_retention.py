"""Retention: every kind of data goes once past its time, and nothing still in use ever does.

Real SQLite files and real folders under a tmp DATA_DIR; "old" is made by writing times in the past
(finished_at, ended_at, file mtimes), never by waiting.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.engine import Engine, RequestOptions
from services.inputs import stage_input
from services.jams.models import Jam, JamState, VoteChoice
from services.jams.store import JamStore
from services.jobs.models import (
    DiscordDelivery,
    JamPlan,
    JobRecord,
    JobState,
    MusicRequest,
    MusicResult,
)
from services.jobs.store import JobStore
from services.retention import Retention
from services.settings import Settings
from tests.conftest import GatedExecutor

DAY = 86_400.0
HOUR = 3600.0


@dataclass
class Stores:
    settings: Settings
    jobs: JobStore
    jams: JamStore
    retention: Retention


@pytest.fixture
async def stores(settings_factory: Callable[..., Settings]) -> AsyncIterator[Stores]:
    settings = settings_factory(
        result_retention_hours=72, input_retention_hours=72, job_retention_days=30, jam_retention_days=30
    )
    async with JobStore(settings.database_file) as jobs, JamStore(settings.database_file) as jams:
        yield Stores(settings, jobs, jams, Retention(settings, jobs, jams))


def _delivery() -> DiscordDelivery:
    return DiscordDelivery(application_id=5, interaction_token="tok", token_expires_at=time.time() + 900)


def _result(job_id: str) -> MusicResult:
    return MusicResult(
        job_id=job_id,
        title="t",
        mp3_path=f"/r/{job_id}.mp3",
        mp3_filename="t.mp3",
        preview_path=None,
        midi_path=None,
        duration_s=4.0,
        bitrate_kbps=192,
        seed=1,
        backend="styles",
    )


async def _job(
    s: Stores,
    job_id: str,
    state: JobState,
    *,
    finished_ago: float | None = None,
    discord: bool = True,
    delivered: bool = False,
    request: MusicRequest | None = None,
) -> None:
    """A job in `state`; finished ones finished `finished_ago` seconds before now."""
    request = request or MusicRequest(prompt=f"piece {job_id}", user_id=1, seed=1)
    created = time.time() - (finished_ago or 0) - 60
    record = JobRecord(job_id, request, JobState.QUEUED, created, delivery=_delivery() if discord else None)
    assert await s.jobs.insert(record)
    if state is JobState.FETCHING:
        await s.jobs.db.execute("UPDATE jobs SET state='fetching' WHERE job_id=?", (job_id,))
    if state in (JobState.RUNNING, JobState.DONE, JobState.FAILED):
        await s.jobs.mark_running(job_id)
    if state is JobState.DONE:
        await s.jobs.mark_done(job_id, _result(job_id))
    elif state is JobState.FAILED:
        await s.jobs.mark_failed(job_id, "Something went wrong.", "ABC123")
    elif state is JobState.CANCELLED:
        await s.jobs.mark_failed(job_id, "Cancelled.", None, cancelled=True)
    if delivered:
        await s.jobs.mark_delivered(job_id)
    if finished_ago is not None:
        await s.jobs.db.execute(
            "UPDATE jobs SET finished_at=? WHERE job_id=?", (time.time() - finished_ago, job_id)
        )
    await s.jobs.db.commit()


def _folder(root: Path, name: str, *, age: float) -> Path:
    """A folder with a file in it, last changed `age` seconds ago."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "file.bin").write_bytes(b"x" * 64)
    then = time.time() - age
    for path in (folder / "file.bin", folder):
        os.utime(path, (then, then))
    return folder


async def _ids(s: Stores) -> set[str]:
    async with s.jobs.db.execute("SELECT job_id FROM jobs") as cur:
        return {row[0] for row in await cur.fetchall()}


async def test_finished_job_rows_go_after_their_retention_unless_still_to_be_posted(stores: Stores) -> None:
    s = stores
    old = 31 * DAY
    await _job(s, "old-posted", JobState.DONE, finished_ago=old, delivered=True)
    await _job(s, "old-cli", JobState.DONE, finished_ago=old, discord=False)
    await _job(s, "old-failed-given-up", JobState.FAILED, finished_ago=old, delivered=True)
    await _job(s, "old-cancelled-posted", JobState.CANCELLED, finished_ago=old, delivered=True)
    await _job(s, "old-never-posted", JobState.DONE, finished_ago=old)  # the deliverer still owes it
    await _job(s, "old-failure-never-posted", JobState.FAILED, finished_ago=old)
    await _job(s, "recent-posted", JobState.DONE, finished_ago=29 * DAY, delivered=True)
    await _job(s, "running", JobState.RUNNING)
    await _job(s, "queued", JobState.QUEUED)
    await _job(s, "fetching", JobState.FETCHING)
    for job_id in ("running", "queued", "fetching"):  # recorded long ago, still not finished
        await s.jobs.db.execute(
            "UPDATE jobs SET created_at=? WHERE job_id=?", (time.time() - 90 * DAY, job_id)
        )
    await s.jobs.db.commit()

    pruned = await s.retention.prune()

    assert pruned.jobs == 4
    assert await _ids(s) == {
        "old-never-posted",
        "old-failure-never-posted",
        "recent-posted",
        "running",
        "queued",
        "fetching",
    }
    kept = await s.jobs.get("old-never-posted")
    assert kept is not None and kept.result == _result("old-never-posted")  # still deliverable, whole
    assert [r.job_id for r in await s.jobs.unfinished()] == ["running", "queued", "fetching"]
    assert not await s.retention.prune()  # a second sweep finds nothing more


async def test_result_folders_go_after_their_retention_except_those_still_needed(stores: Stores) -> None:
    s = stores
    results = s.settings.results_dir
    old = 4 * DAY
    await _job(s, "posted", JobState.DONE, finished_ago=old, delivered=True)
    await _job(s, "unposted", JobState.DONE, finished_ago=old)
    await _job(s, "running", JobState.RUNNING)  # resumed after a restart; its folder is from before
    await _job(s, "fresh", JobState.DONE, finished_ago=60, delivered=True)
    for name in ("posted", "unposted", "running", "orphan"):
        _folder(results, name, age=old)
    _folder(results, "fresh", age=60)
    _folder(results, "young-orphan", age=60)

    pruned = await s.retention.prune()

    assert pruned.results == 2
    assert sorted(p.name for p in results.iterdir()) == ["fresh", "running", "unposted", "young-orphan"]
    assert (results / "unposted" / "file.bin").read_bytes() == b"x" * 64


async def test_attachments_go_once_their_job_is_done_with_them(stores: Stores) -> None:
    s = stores
    inputs = s.settings.inputs_dir
    await _job(s, "done-long-ago", JobState.DONE, finished_ago=4 * DAY, delivered=True)
    await _job(s, "done-lately", JobState.DONE, finished_ago=HOUR, delivered=True)
    await _job(s, "failed", JobState.FAILED, finished_ago=60, delivered=True)  # a leftover: deleted at once
    await _job(s, "cancelled", JobState.CANCELLED, finished_ago=60)
    await _job(s, "queued", JobState.QUEUED)
    # A Reroll of a picture piece done long ago reads the parent's picture: it stays while the Reroll waits.
    parent_picture = stage_input(inputs, "picture-parent", b"png")
    await _job(s, "picture-parent", JobState.DONE, finished_ago=4 * DAY, delivered=True)
    reroll = MusicRequest(prompt="p", user_id=1, seed=2, input_path=parent_picture, input_kind="image")
    await _job(s, "reroll", JobState.QUEUED, request=reroll)
    for name in ("done-long-ago", "done-lately", "failed", "cancelled", "queued", "old-orphan"):
        _folder(inputs, name, age=4 * DAY)  # the files' own age: what counts for a known job is its end
    _folder(inputs, "young-orphan", age=HOUR)
    os.utime(Path(parent_picture).parent, (time.time() - 4 * DAY,) * 2)

    pruned = await s.retention.prune()

    assert pruned.inputs == 4
    assert sorted(p.name for p in inputs.iterdir()) == [
        "done-lately",
        "picture-parent",
        "queued",
        "young-orphan",
    ]
    assert Path(parent_picture).read_bytes() == b"png"

    # Once the Reroll is done with it (and the parent is past retention), the picture goes too.
    await s.jobs.mark_running("reroll")
    await s.jobs.mark_done("reroll", _result("reroll"))
    assert (await s.retention.prune()).inputs == 1
    assert not Path(parent_picture).exists()


async def _jam(s: Stores, jam_id: str, channel: int, *, ended_ago: float | None, age: float) -> None:
    """A jam with two contributions and votes; ended `ended_ago` seconds ago (None: still open)."""
    jam = Jam(
        id=jam_id,
        guild_id=1,
        channel_id=channel,
        thread_id=None,
        starter_id=1,
        starter_name="al",
        theme="sea",
        bpm=100.0,
        key="C major",
        bars=4,
        beats_per_bar=4,
        backend="styles",
        state=JamState.OPEN,
        created_at=time.time() - age,
    )
    await s.jams.insert_jam(jam)
    for n in range(2):
        c = await s.jams.insert_contribution(jam_id, author_id=n, author_name=f"u{n}", prompt="waves", seed=n)
        await s.jams.set_vote(c.id, 7, VoteChoice.KEEP)
        await s.jams.set_vote(c.id, 8, VoteChoice.SKIP)
    if ended_ago is not None:
        assert await s.jams.end_jam(jam_id)
        await s.jams.db.execute(
            "UPDATE jams SET ended_at=? WHERE jam_id=?", (time.time() - ended_ago, jam_id)
        )
        await s.jams.db.commit()
    _folder(s.settings.data_dir / "jams", jam_id, age=age)


async def _count(s: Stores, table: str) -> int:
    async with s.jams.db.execute(f"SELECT COUNT(*) FROM {table}") as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def test_ended_jams_go_with_their_prompts_votes_and_cache_and_open_ones_never(stores: Stores) -> None:
    s = stores
    jams_root = s.settings.data_dir / "jams"
    await _jam(s, "jam-old", 1, ended_ago=31 * DAY, age=40 * DAY)
    await _jam(s, "jam-recent", 2, ended_ago=29 * DAY, age=40 * DAY)
    await _jam(s, "jam-open", 3, ended_ago=None, age=400 * DAY)  # open for a year: still open
    await _jam(s, "jam-final-render", 4, ended_ago=31 * DAY, age=40 * DAY)
    plan = JamPlan("jam-final-render", "sea", 100.0, "C major", 4, 4, 1.0, (), final=True)
    await _job(s, "final", JobState.QUEUED, request=MusicRequest(prompt="jam", user_id=1, jam=plan))
    _folder(jams_root, "jam-gone-long-ago", age=31 * DAY)  # a cache no jam on record explains
    _folder(jams_root, "jam-young-orphan", age=HOUR)

    pruned = await s.retention.prune()

    assert (pruned.jams, pruned.jam_caches) == (1, 2)
    assert await s.jams.get_jam("jam-old") is None
    assert await s.jams.contributions("jam-old") == []
    assert await _count(s, "jam_contributions") == 6 and await _count(s, "jam_votes") == 12
    for jam_id in ("jam-recent", "jam-open", "jam-final-render"):
        assert await s.jams.get_jam(jam_id) is not None
        contributions = await s.jams.contributions(jam_id)
        assert len(contributions) == 2
        tallies = await s.jams.tallies(jam_id)
        assert all((t.keeps, t.skips) == (1, 1) for t in tallies.values()) and len(tallies) == 2
    assert sorted(p.name for p in jams_root.iterdir()) == [
        "jam-final-render",
        "jam-open",
        "jam-recent",
        "jam-young-orphan",
    ]


async def test_the_job_service_deletes_an_attachment_when_its_job_ends(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(embeddings_enabled=False, per_user_queued_jobs=10, user_jobs_per_minute=100)
    executor = GatedExecutor(settings)
    async with Engine(settings, executor=executor) as engine:
        picture = stage_input(settings.inputs_dir, "cancelled", b"png")
        request = engine.build_request(RequestOptions("calm piano", duration_s=2), user_id=1)
        await engine.submit("cancelled", request.derive(input_path=picture))
        while executor.entered != ["cancelled"]:
            await asyncio.sleep(0.01)
        await engine.jobs.cancel("cancelled", user_id=1)
        assert (await asyncio.wait_for(engine.jobs.wait("cancelled"), 30)).state is JobState.CANCELLED
        assert not Path(picture).parent.exists()  # nothing can remake a cancelled piece

        kept = stage_input(settings.inputs_dir, "done", b"png")
        await engine.submit("done", request.derive(input_path=kept))
        executor.gate.set()
        assert (await asyncio.wait_for(engine.jobs.wait("done"), 60)).state is JobState.DONE
        assert Path(kept).read_bytes() == b"png"  # kept for INPUT_RETENTION_HOURS: Reroll may need it


async def test_with_no_input_retention_a_done_jobs_attachment_goes_at_once(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(embeddings_enabled=False, input_retention_hours=0)
    executor = GatedExecutor(settings)
    executor.gate.set()
    async with Engine(settings, executor=executor) as engine:
        picture = stage_input(settings.inputs_dir, "done", b"png")
        request = engine.build_request(RequestOptions("calm piano", duration_s=2), user_id=1)
        await engine.submit("done", request.derive(input_path=picture))
        assert (await asyncio.wait_for(engine.jobs.wait("done"), 60)).state is JobState.DONE
        assert not Path(picture).parent.exists()


async def test_the_engine_prunes_at_start_and_on_its_interval(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(prune_interval_s=1)
    old = _folder(settings.results_dir, "old-orphan", age=4 * DAY)
    async with Engine(settings, executor=GatedExecutor(settings)):
        deadline = time.monotonic() + 30
        while old.exists():  # the first sweep runs as the engine starts
            assert time.monotonic() < deadline, "the start-up sweep did not run"
            await asyncio.sleep(0.05)
        later = _folder(settings.inputs_dir, "later-orphan", age=4 * DAY)
        while later.exists():  # and again a PRUNE_INTERVAL_S later
            assert time.monotonic() < deadline, "the periodic sweep did not run"
            await asyncio.sleep(0.05)
