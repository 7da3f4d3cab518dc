"""The store base: schema versions per store, ordered migrations, old databases upgraded in place.

Real SQLite files in tmp dirs; "old" databases are made with the exact SQL earlier releases ran.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from services.guild_settings import GuildSettingsStore
from services.jams.store import JamStore
from services.jobs.models import JobState
from services.jobs.store import JobStore
from services.storage.base import SqliteStore
from services.storage.migrations import Migration, SchemaTooNew, latest, statements

ROOT = Path(__file__).resolve().parent.parent

# What the first releases made, without any version info (CREATE … IF NOT EXISTS, nothing else).
FIRST_RELEASE_SQL = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY, user_id INTEGER NOT NULL, guild_id INTEGER, request TEXT NOT NULL,
    state TEXT NOT NULL, created_at REAL NOT NULL, started_at REAL, finished_at REAL, delivery TEXT,
    result TEXT, error TEXT, error_id TEXT, delivered INTEGER NOT NULL DEFAULT 0, delivering_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created_at);
CREATE INDEX IF NOT EXISTS jobs_user ON jobs (user_id, created_at);
CREATE TABLE IF NOT EXISTS guild_settings (
    guild_id INTEGER PRIMARY KEY, listen_channels TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS jams (
    jam_id TEXT PRIMARY KEY, guild_id INTEGER, channel_id INTEGER NOT NULL, thread_id INTEGER,
    starter_id INTEGER NOT NULL, starter_name TEXT NOT NULL, theme TEXT NOT NULL, bpm REAL NOT NULL,
    music_key TEXT NOT NULL, bars INTEGER NOT NULL, beats_per_bar INTEGER NOT NULL, backend TEXT NOT NULL,
    state TEXT NOT NULL, created_at REAL NOT NULL, ended_at REAL, card_channel_id INTEGER,
    card_message_id INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS jams_one_open_per_channel ON jams (channel_id) WHERE state = 'open';
CREATE INDEX IF NOT EXISTS jams_thread ON jams (thread_id);
CREATE TABLE IF NOT EXISTS jam_contributions (
    contribution_id INTEGER PRIMARY KEY AUTOINCREMENT, jam_id TEXT NOT NULL REFERENCES jams (jam_id),
    author_id INTEGER NOT NULL, author_name TEXT NOT NULL, prompt TEXT NOT NULL, seed INTEGER NOT NULL,
    position INTEGER NOT NULL, state TEXT NOT NULL, created_at REAL NOT NULL, UNIQUE (jam_id, position)
);
CREATE TABLE IF NOT EXISTS jam_votes (
    contribution_id INTEGER NOT NULL REFERENCES jam_contributions (contribution_id),
    user_id INTEGER NOT NULL, choice TEXT NOT NULL, voted_at REAL NOT NULL,
    PRIMARY KEY (contribution_id, user_id)
);
"""

# The release just before versions: the jobs table with error_values in its CREATE, the delivery columns
# added by the old ad-hoc code, and guild_settings from before jam_messages (which that release could not
# even open: its SELECT named a column nothing had added).
LAST_UNVERSIONED_SQL = """
CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY, user_id INTEGER NOT NULL, guild_id INTEGER, request TEXT NOT NULL,
    state TEXT NOT NULL, created_at REAL NOT NULL, started_at REAL, finished_at REAL, delivery TEXT,
    result TEXT, error TEXT, error_values TEXT, error_id TEXT, delivered INTEGER NOT NULL DEFAULT 0,
    delivering_at REAL, attempts INTEGER NOT NULL DEFAULT 0
);
ALTER TABLE jobs ADD COLUMN delivery_owner TEXT;
ALTER TABLE jobs ADD COLUMN delivery_error TEXT;
CREATE INDEX jobs_state ON jobs (state, created_at);
CREATE INDEX jobs_user ON jobs (user_id, created_at);
CREATE TABLE guild_settings (
    guild_id INTEGER PRIMARY KEY, listen_channels TEXT NOT NULL DEFAULT '[]',
    code_enabled INTEGER NOT NULL DEFAULT 0
);
"""

_REQUEST = json.dumps({"prompt": "sunny folk", "user_id": 7, "seed": 3})


def _schema(path: Path, *, ordered: bool = True) -> dict[str, Any]:
    """Every table's columns (in order, or as a set) and every index's shape: what queries depend on."""
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        shape: dict[str, Any] = {}
        for table in tables:
            columns = [tuple(r[1:]) for r in db.execute(f"PRAGMA table_info({table})")]
            indexes = {}
            for _, name, unique, origin, partial in db.execute(f"PRAGMA index_list({table})"):
                cols = tuple(r[2] for r in db.execute(f"PRAGMA index_info({name})"))
                indexes[name] = (unique, origin, partial, cols)
            shape[table] = (columns if ordered else sorted(columns), indexes)
        return shape


def _versions(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT store, version FROM schema_versions"))


async def _open_all(path: Path) -> None:
    async with JobStore(path), JamStore(path), GuildSettingsStore(path):
        pass


async def test_a_fresh_database_gets_every_store_at_its_latest_version(tmp_path: Path) -> None:
    path = tmp_path / "fresh.sqlite3"
    await _open_all(path)
    assert _versions(path) == {
        "jobs": latest(JobStore.migrations),
        "jams": latest(JamStore.migrations),
        "guild_settings": latest(GuildSettingsStore.migrations),
    }
    columns = {r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(jobs)")}
    assert {"error_values", "delivery_owner", "delivery_error", "attempts"} <= columns
    shape = _schema(path)
    await _open_all(path)  # opening again changes nothing
    assert _schema(path) == shape


async def test_a_first_release_database_upgrades_in_place_and_ends_identical_to_a_fresh_one(
    tmp_path: Path,
) -> None:
    old = tmp_path / "old.sqlite3"
    with sqlite3.connect(old) as db:
        db.executescript(FIRST_RELEASE_SQL)
        db.execute(
            "INSERT INTO jobs (job_id, user_id, request, state, created_at, attempts) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            ("j1", 7, _REQUEST, "queued", 1000.0, 1),
        )
        db.execute("INSERT INTO guild_settings (guild_id, listen_channels) VALUES (5, '[11, 12]')")
        db.execute(
            "INSERT INTO jams (jam_id, channel_id, starter_id, starter_name, theme, bpm, music_key, bars, "
            "beats_per_bar, backend, state, created_at) "
            "VALUES ('jam1', 3, 7, 'al', 'sea', 90, 'C major', 4, 4, 'styles', 'open', 1000.0)"
        )
    fresh = tmp_path / "fresh.sqlite3"
    await _open_all(fresh)
    await _open_all(old)

    assert _schema(old) == _schema(fresh)  # same columns in the same order, same indexes
    assert _versions(old) == _versions(fresh)
    async with JobStore(old) as jobs, GuildSettingsStore(old) as guilds, JamStore(old) as jams:
        job = await jobs.get("j1")  # the old rows are all there, and work with today's code
        assert job is not None and job.state is JobState.QUEUED and job.attempts == 1
        assert job.request.prompt == "sunny folk" and job.error_values == {} and job.delivery_error is None
        assert guilds.listening_channels(5) == {11, 12} and not guilds.code_enabled(5)
        assert not guilds.jam_messages(5)
        await guilds.set_jam_messages(5, True)
        jam = await jams.get_jam("jam1")
        assert jam is not None and jam.theme == "sea"
    async with GuildSettingsStore(old) as guilds:
        assert guilds.jam_messages(5)


async def test_the_last_unversioned_release_upgrades_although_some_columns_were_already_added(
    tmp_path: Path,
) -> None:
    old = tmp_path / "old.sqlite3"
    with sqlite3.connect(old) as db:
        db.executescript(LAST_UNVERSIONED_SQL)
        db.execute(
            "INSERT INTO jobs (job_id, user_id, request, state, created_at, error, error_values, delivered, "
            "delivery_error) VALUES ('j1', 7, ?, 'failed', 1000.0, 'No {x}.', '{\"x\": \"y\"}', 1, 'gone')",
            (_REQUEST,),
        )
        db.execute("INSERT INTO guild_settings (guild_id, code_enabled) VALUES (5, 1)")
    fresh = tmp_path / "fresh.sqlite3"
    await _open_all(fresh)
    await _open_all(old)

    # Same columns and indexes (error_values sits where that release's CREATE put it: order aside).
    assert _schema(old, ordered=False) == _schema(fresh, ordered=False)
    async with JobStore(old) as jobs, GuildSettingsStore(old) as guilds:
        job = await jobs.get("j1")
        assert job is not None and job.error_text() == "No y." and job.delivery_error == "gone"
        assert guilds.code_enabled(5) and not guilds.jam_messages(5)


class _Numbered(SqliteStore):
    name = "numbered"
    migrations = (
        Migration(1, "a table", ("CREATE TABLE things (id INTEGER PRIMARY KEY)",)),
        Migration(2, "a column", ("ALTER TABLE things ADD COLUMN label TEXT",)),
    )


class _Broken(SqliteStore):
    name = "numbered"
    migrations = (
        *_Numbered.migrations,
        Migration(
            3,
            "half a change, then a mistake",
            ("CREATE TABLE more_things (id INTEGER)", "ALTER TABLE no_such_table ADD COLUMN x TEXT"),
        ),
    )


async def test_a_failing_migration_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with _Numbered(path) as store:
        await store.db.execute("INSERT INTO things (label) VALUES ('kept')")
        await store.db.commit()
    broken = _Broken(path)
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        await broken.open()
    with pytest.raises(RuntimeError, match="not open"):
        broken.db  # noqa: B018 - the failed open left no connection behind
    assert _versions(path) == {"numbered": 2}
    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "more_things" not in tables  # the first step of migration 3 was rolled back too
        assert db.execute("SELECT label FROM things").fetchall() == [("kept",)]


async def test_a_database_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with _Numbered(path):  # version 2
        pass
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_versions SET version=7 WHERE store='numbered'")
    with pytest.raises(SchemaTooNew, match="version 7, newer than this release knows"):
        await _Numbered(path).open()
    assert _versions(path) == {"numbered": 7}


def test_migrations_must_be_numbered_in_order() -> None:
    one = Migration(1, "a", ("SELECT 1",))
    three = Migration(3, "c", ("SELECT 1",))
    with pytest.raises(ValueError, match="numbered 1, 2, 3"):
        latest((one, three))
    assert statements("CREATE TABLE a (x TEXT DEFAULT ';'); CREATE INDEX i ON a (x);") == (
        "CREATE TABLE a (x TEXT DEFAULT ';');",
        "CREATE INDEX i ON a (x);",
    )


async def _slow_step(db: aiosqlite.Connection) -> None:
    """Record that this process applied the migration, then hold the write lock a moment."""
    await db.execute("INSERT INTO applied (pid) VALUES (?)", (os.getpid(),))
    await asyncio.sleep(0.3)
    await db.execute("ALTER TABLE applied ADD COLUMN extra TEXT")  # fails if it ever runs twice


class RacingStore(SqliteStore):
    """Migrations that break if applied twice (plain CREATE and ALTER), with a step that holds the lock."""

    name = "racing"
    migrations = (
        Migration(1, "a table", ("CREATE TABLE applied (pid INTEGER NOT NULL)",)),
        Migration(2, "a slow change", (_slow_step,)),
    )


_RACER = """
import asyncio, sys, time
from pathlib import Path
from tests.test_storage import RacingStore

async def main() -> None:
    db, signals, me = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    (signals / f"ready-{me}").touch()
    while not (signals / "go").exists():
        time.sleep(0.005)
    async with RacingStore(db):
        pass

asyncio.run(main())
"""


async def test_processes_opening_at_once_apply_each_migration_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    signals = tmp_path / "signals"
    signals.mkdir()
    racers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _RACER,
            str(path),
            str(signals),
            str(i),
            cwd=ROOT,
            stderr=asyncio.subprocess.PIPE,
        )
        for i in range(4)
    ]
    deadline = time.monotonic() + 60
    while len(list(signals.glob("ready-*"))) < len(racers):
        assert time.monotonic() < deadline, "the racing processes did not start"
        await asyncio.sleep(0.01)
    (signals / "go").touch()  # all four open the fresh database now
    results = [await asyncio.wait_for(racer.communicate(), 60) for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0, 0, 0], [err.decode() for _, err in results]
    with sqlite3.connect(path) as db:
        applied = db.execute("SELECT pid FROM applied").fetchall()
        assert len(applied) == 1  # one process migrated; the others waited and found nothing to do
        assert applied[0][0] in {racer.pid for racer in racers}
    assert _versions(path) == {"racing": 2}
