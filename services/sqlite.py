"""Opening the bot's SQLite database, the same way for every store that shares it.

Jobs, jams and guild settings keep their own tables in one file, each store on its own
connection; WAL lets them read while another writes, and the busy timeout lets a writer wait its turn.
Schemas are not made here: each store's migrations (services/storage) bring its tables up to date.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from contextlib import suppress
from pathlib import Path

import aiosqlite

BUSY_TIMEOUT_S = 10.0  # how long a write waits for another connection's write to finish
_WAL_RETRY_S = 0.02


async def connect(path: Path | str) -> aiosqlite.Connection:
    """A connection with rows by name and WAL journaling; the folder is made if missing."""
    memory = str(path) == ":memory:"
    if not memory:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = aiosqlite.connect(path, timeout=BUSY_TIMEOUT_S)
    try:
        await db
        db.row_factory = aiosqlite.Row
        if not memory:
            await _use_wal(db)
        await db.execute("PRAGMA synchronous=NORMAL")
    except BaseException:  # a failure, or Ctrl+C / a shutdown cancelling the start
        await _abandon(db)
        raise
    return db


async def _use_wal(db: aiosqlite.Connection) -> None:
    """Switch to WAL, waiting like the busy timeout would. Why a loop: turning a new file to WAL needs an
    exclusive lock and SQLite answers 'database is locked' at once, without its busy handler, when another
    process opens the same new file at the same moment."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUSY_TIMEOUT_S
    while True:
        try:
            async with db.execute("PRAGMA journal_mode=WAL") as cur:
                row = await cur.fetchone()
            if row is not None and str(row[0]).lower() == "wal":
                return
            problem: Exception = sqlite3.OperationalError(f"journal mode stayed {row[0] if row else '?'}")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            problem = exc
        if loop.time() >= deadline:
            raise problem
        await asyncio.sleep(_WAL_RETRY_S)


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
