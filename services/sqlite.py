"""Opening the bot's SQLite database, the same way for every store that shares it.

Jobs, jams and guild settings keep their own tables in one file, each store on its own
connection; WAL lets them read while another writes, and the busy timeout lets a writer wait its turn.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from contextlib import suppress
from pathlib import Path

import aiosqlite

BUSY_TIMEOUT_S = 10.0  # how long a write waits for another connection's write to finish


async def connect(path: Path | str, schema: str) -> aiosqlite.Connection:
    """A connection with rows by name, WAL journaling, and `schema` (CREATE … IF NOT EXISTS) applied."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = aiosqlite.connect(path, timeout=BUSY_TIMEOUT_S)
    try:
        await db
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.executescript(schema)
        await db.commit()
    except BaseException:  # a failure, or Ctrl+C / a shutdown cancelling the start
        await _abandon(db)
        raise
    return db


async def add_missing_columns(db: aiosqlite.Connection, table: str, columns: dict[str, str]) -> None:
    """Give a table made by an older release the columns a newer one added (CREATE … IF NOT EXISTS
    leaves an existing table as it is). `columns`: name → declaration, e.g. {"owner": "TEXT"}."""
    async with db.execute(f"PRAGMA table_info({table})") as cur:
        present = {row[1] for row in await cur.fetchall()}
    for name, declaration in columns.items():
        if name in present:
            continue
        try:
            await db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")
        except sqlite3.OperationalError as exc:
            if "duplicate column" not in str(exc):  # another process migrated it a moment ago
                raise
    await db.commit()


async def _abandon(db: aiosqlite.Connection) -> None:
    """Close a connection that failed to open and wait for its thread. Why: cancelled mid-open, the
    thread goes on with the queued operation and, if the event loop has closed meanwhile, dies
    printing 'Event loop is closed' tracebacks over a clean exit."""
    with suppress(Exception):
        await db.close()
    db.stop()
    thread = getattr(db, "_thread", None)
    if isinstance(thread, threading.Thread) and thread.is_alive():
        await asyncio.to_thread(thread.join, 10.0)
