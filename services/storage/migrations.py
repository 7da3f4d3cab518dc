"""Schema versions and ordered migrations, one list per store, in the database file the stores share.

Why a `schema_versions` table and not `PRAGMA user_version`: user_version is one number per file, and
the job, jam and guild-settings stores share one file while being opened independently (the jam service
opens its store without the engine; the command line opens no jam store; a test opens one alone). A row
per store lets each own its list and be opened alone, in any order, knowing nothing of the others.

How it runs: a store's migrations are numbered 1, 2, 3… Migration 1 is the schema of the store's first
release; each later one is a change made since. Opening a store reads its row (none: version 0) and, when
behind, takes the write lock first (BEGIN IMMEDIATE), reads the row again (another process may have
migrated meanwhile), applies the missing migrations and records the new version, all in that one
transaction: a failure leaves the database as it was, and of two processes opening at once exactly one
migrates while the other waits (busy timeout) and then finds nothing left to do.

Databases from before versions existed have no row but do have tables, perhaps already with some later
columns (added by the old ad-hoc code). So migration 1 uses CREATE … IF NOT EXISTS, and `add_columns`
adds a column only when it is missing; from then on the row says exactly which steps ran.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import aiosqlite

log = logging.getLogger(__name__)

# One SQL statement, or an async step for what SQL alone cannot say ("add this column unless present").
Step = str | Callable[[aiosqlite.Connection], Awaitable[None]]

_VERSIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_versions (store TEXT PRIMARY KEY, version INTEGER NOT NULL)"
)


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer release than this one: refuse rather than guess."""


@dataclass(frozen=True)
class Migration:
    """One numbered change to a store's schema."""

    version: int  # 1, 2, 3… in order, no gaps
    what: str  # why this change exists (logged when it runs)
    steps: tuple[Step, ...]


def statements(script: str) -> tuple[str, ...]:
    """A script cut into single statements: a migration runs inside one transaction, and
    `executescript` would commit it first."""
    out: list[str] = []
    pending = ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):  # a ';' inside a string or trigger keeps going
            if pending.strip(" \t\n;"):
                out.append(pending.strip())
            pending = ""
    if pending.strip(" \t\n;"):
        raise ValueError(f"incomplete SQL statement: {pending.strip()[:80]}")
    return tuple(out)


def add_columns(table: str, **columns: str) -> Step:
    """A step adding each column (name → declaration) the table lacks: tables from before versions
    may already have some of them."""

    async def step(db: aiosqlite.Connection) -> None:
        async with db.execute(f"PRAGMA table_info({table})") as cur:
            present = {row[1] for row in await cur.fetchall()}
        for name, declaration in columns.items():
            if name not in present:
                await db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")

    return step


def latest(migrations: Sequence[Migration]) -> int:
    """The version a store's migrations end at; checks they are numbered 1, 2, 3… in order."""
    numbers = [m.version for m in migrations]
    if numbers != list(range(1, len(numbers) + 1)):
        raise ValueError(f"migrations must be numbered 1, 2, 3… in order, not {numbers}")
    return len(numbers)


async def schema_version(db: aiosqlite.Connection, store: str) -> int:
    """The store's recorded version; 0 when it has none (a new database, or one from before versions)."""
    async with db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_versions'") as cur:
        if await cur.fetchone() is None:
            return 0
    async with db.execute("SELECT version FROM schema_versions WHERE store=?", (store,)) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row is not None else 0


async def migrate(db: aiosqlite.Connection, store: str, migrations: Sequence[Migration]) -> int:
    """Bring `store`'s tables up to its latest migration; returns that version."""
    target = latest(migrations)
    current = await schema_version(db, store)
    if current == target:
        return current  # the usual start: nothing to do, no write lock taken
    await db.execute("BEGIN IMMEDIATE")  # the write lock, before deciding anything
    try:
        current = await schema_version(db, store)  # another process may have migrated while we waited
        if current > target:
            raise SchemaTooNew(
                f"the {store} tables in this database are at schema version {current}, newer than this "
                f"release knows ({target}); run the newer release, or restore a backup"
            )
        for migration in migrations[current:]:
            for step in migration.steps:
                if isinstance(step, str):
                    await db.execute(step)
                else:
                    await step(db)
            log.info("%s schema %d → %d: %s", store, migration.version - 1, migration.version, migration.what)
        await db.execute(_VERSIONS_TABLE)
        await db.execute(
            "INSERT INTO schema_versions (store, version) VALUES (?, ?) "
            "ON CONFLICT (store) DO UPDATE SET version = excluded.version",
            (store, target),
        )
        await db.commit()
    except BaseException:
        await db.rollback()
        raise
    return target
