"""Opening the bot's SQLite database, the same way for every store that shares it.

Jobs, jams and guild settings keep their own tables in one file, each store on its own
connection; WAL lets them read while another writes, and the busy timeout lets a writer wait its turn.
"""

from __future__ import annotations

from pathlib import Path

import aiosqlite

BUSY_TIMEOUT_S = 10.0  # how long a write waits for another connection's write to finish


async def connect(path: Path | str, schema: str) -> aiosqlite.Connection:
    """A connection with rows by name, WAL journaling, and `schema` (CREATE … IF NOT EXISTS) applied."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = await aiosqlite.connect(path, timeout=BUSY_TIMEOUT_S)
    db.row_factory = aiosqlite.Row
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA synchronous=NORMAL")
    await db.executescript(schema)
    await db.commit()
    return db


async def add_missing_columns(db: aiosqlite.Connection, table: str, columns: dict[str, str]) -> None:
    """Add columns a newer version of a store needs to a table an older version created."""
    async with db.execute(f"PRAGMA table_info({table})") as cur:
        present = {row["name"] for row in await cur.fetchall()}
    for name, declaration in columns.items():
        if name not in present:
            await db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")
    await db.commit()
