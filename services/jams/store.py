"""SQLite record of jams, contributions and votes, in the same database file as the jobs.

A connection of its own on the engine's database (WAL mode lets both work at once). The
schema is owned here, as migrations (services/storage); a partial unique index keeps one
open jam per channel even if two /jam start commands race.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Collection
from typing import Any

from services.jams.models import Contribution, ContributionState, Jam, JamState, Tally, VoteChoice
from services.storage.base import SqliteStore
from services.storage.migrations import Migration, statements

_FIRST_RELEASE = """
CREATE TABLE IF NOT EXISTS jams (
    jam_id          TEXT PRIMARY KEY,
    guild_id        INTEGER,
    channel_id      INTEGER NOT NULL,
    thread_id       INTEGER,
    starter_id      INTEGER NOT NULL,
    starter_name    TEXT NOT NULL,
    theme           TEXT NOT NULL,
    bpm             REAL NOT NULL,
    music_key       TEXT NOT NULL,
    bars            INTEGER NOT NULL,
    beats_per_bar   INTEGER NOT NULL,
    backend         TEXT NOT NULL,
    state           TEXT NOT NULL,
    created_at      REAL NOT NULL,
    ended_at        REAL,
    card_channel_id INTEGER,
    card_message_id INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS jams_one_open_per_channel ON jams (channel_id) WHERE state = 'open';
CREATE INDEX IF NOT EXISTS jams_thread ON jams (thread_id);
CREATE TABLE IF NOT EXISTS jam_contributions (
    contribution_id INTEGER PRIMARY KEY AUTOINCREMENT,
    jam_id          TEXT NOT NULL REFERENCES jams (jam_id),
    author_id       INTEGER NOT NULL,
    author_name     TEXT NOT NULL,
    prompt          TEXT NOT NULL,
    seed            INTEGER NOT NULL,
    position        INTEGER NOT NULL,
    state           TEXT NOT NULL,
    created_at      REAL NOT NULL,
    UNIQUE (jam_id, position)
);
CREATE TABLE IF NOT EXISTS jam_votes (
    contribution_id INTEGER NOT NULL REFERENCES jam_contributions (contribution_id),
    user_id         INTEGER NOT NULL,
    choice          TEXT NOT NULL,
    voted_at        REAL NOT NULL,
    PRIMARY KEY (contribution_id, user_id)
);
"""


MIGRATIONS = (
    Migration(1, "jams, contributions and votes as the first release made them", statements(_FIRST_RELEASE)),
)


class JamExists(Exception):
    """The channel already has an open jam (the unique index said so)."""


class JamStore(SqliteStore):
    """Async access to the jam tables. Use as `async with JamStore(path) as store:`."""

    name = "jams"
    migrations = MIGRATIONS

    # --- jams --------------------------------------------------------------------------------

    async def insert_jam(self, jam: Jam) -> None:
        """Insert a new open jam; JamExists if its channel already has one."""
        try:
            await self.db.execute(
                "INSERT INTO jams (jam_id, guild_id, channel_id, thread_id, starter_id, starter_name, theme, "
                "bpm, music_key, bars, beats_per_bar, backend, state, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    jam.id,
                    jam.guild_id,
                    jam.channel_id,
                    jam.thread_id,
                    jam.starter_id,
                    jam.starter_name,
                    jam.theme,
                    jam.bpm,
                    jam.key,
                    jam.bars,
                    jam.beats_per_bar,
                    jam.backend,
                    jam.state.value,
                    jam.created_at,
                ),
            )
            await self.db.commit()
        except sqlite3.IntegrityError:
            await self.db.rollback()
            raise JamExists(jam.channel_id) from None

    async def set_home(
        self, jam_id: str, *, thread_id: int | None, card_channel_id: int, card_message_id: int
    ) -> None:
        await self.db.execute(
            "UPDATE jams SET thread_id=?, card_channel_id=?, card_message_id=? WHERE jam_id=?",
            (thread_id, card_channel_id, card_message_id, jam_id),
        )
        await self.db.commit()

    async def end_jam(self, jam_id: str) -> bool:
        """Mark a jam ended; False if it already was."""
        cur = await self.db.execute(
            "UPDATE jams SET state=?, ended_at=? WHERE jam_id=? AND state=?",
            (JamState.ENDED.value, time.time(), jam_id, JamState.OPEN.value),
        )
        await self.db.commit()
        return cur.rowcount == 1

    async def get_jam(self, jam_id: str) -> Jam | None:
        async with self.db.execute("SELECT * FROM jams WHERE jam_id=?", (jam_id,)) as cur:
            row = await cur.fetchone()
        return _row_to_jam(row) if row else None

    async def latest_jam_in(self, channel_id: int) -> Jam | None:
        """The jam played in this channel or thread: the open one, else the most recent."""
        async with self.db.execute(
            "SELECT * FROM jams WHERE channel_id=? OR thread_id=? "
            "ORDER BY state = 'open' DESC, created_at DESC LIMIT 1",
            (channel_id, channel_id),
        ) as cur:
            row = await cur.fetchone()
        return _row_to_jam(row) if row else None

    # --- retention ---------------------------------------------------------------------------

    async def ended_before(self, cutoff: float) -> list[str]:
        """Ids of jams that ended before `cutoff` (open jams never are)."""
        async with self.db.execute(
            "SELECT jam_id FROM jams WHERE state=? AND ended_at < ? ORDER BY ended_at",
            (JamState.ENDED.value, cutoff),
        ) as cur:
            return [row["jam_id"] for row in await cur.fetchall()]

    async def jam_ids(self) -> set[str]:
        """Every jam on record, open or ended (retention keeps their folders)."""
        async with self.db.execute("SELECT jam_id FROM jams") as cur:
            return {row["jam_id"] for row in await cur.fetchall()}

    async def delete_ended(self, jam_ids: Collection[str]) -> int:
        """Delete these jams with their contributions and votes, in one transaction; a jam that is open
        (or no longer exists) is left alone. Returns how many jams went."""
        ids = list(jam_ids)
        removed = 0
        try:
            for start in range(0, len(ids), 500):  # well inside SQLite's limit on bound parameters
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                ended = f"SELECT jam_id FROM jams WHERE jam_id IN ({marks}) AND state='ended'"
                await self.db.execute(
                    "DELETE FROM jam_votes WHERE contribution_id IN "
                    f"(SELECT contribution_id FROM jam_contributions WHERE jam_id IN ({ended}))",
                    chunk,
                )
                await self.db.execute(f"DELETE FROM jam_contributions WHERE jam_id IN ({ended})", chunk)
                cur = await self.db.execute(
                    f"DELETE FROM jams WHERE jam_id IN ({marks}) AND state='ended'", chunk
                )
                removed += cur.rowcount
            await self.db.commit()
        except BaseException:
            await self.db.rollback()
            raise
        return removed

    # --- contributions -----------------------------------------------------------------------

    async def insert_contribution(
        self, jam_id: str, *, author_id: int, author_name: str, prompt: str, seed: int
    ) -> Contribution:
        """Append a contribution at the end of the jam's order (atomically: positions never collide)."""
        now = time.time()
        cur = await self.db.execute(
            "INSERT INTO jam_contributions (jam_id, author_id, author_name, prompt, seed, position, state, "
            "created_at) SELECT ?, ?, ?, ?, ?, COALESCE(MAX(position), 0) + 1, ?, ? "
            "FROM jam_contributions WHERE jam_id=?",
            (jam_id, author_id, author_name, prompt, seed, ContributionState.ACTIVE.value, now, jam_id),
        )
        await self.db.commit()
        row_id = cur.lastrowid
        assert row_id is not None
        contribution = await self.get_contribution(row_id)
        assert contribution is not None
        return contribution

    async def set_contribution_state(self, contribution_id: int, state: ContributionState) -> None:
        await self.db.execute(
            "UPDATE jam_contributions SET state=? WHERE contribution_id=?", (state.value, contribution_id)
        )
        await self.db.commit()

    async def get_contribution(self, contribution_id: int) -> Contribution | None:
        async with self.db.execute(
            "SELECT * FROM jam_contributions WHERE contribution_id=?", (contribution_id,)
        ) as cur:
            row = await cur.fetchone()
        return _row_to_contribution(row) if row else None

    async def contributions(self, jam_id: str) -> list[Contribution]:
        """Every contribution of a jam (any state), in jam order."""
        async with self.db.execute(
            "SELECT * FROM jam_contributions WHERE jam_id=? ORDER BY position", (jam_id,)
        ) as cur:
            rows = await cur.fetchall()
        return [_row_to_contribution(r) for r in rows]

    # --- votes -------------------------------------------------------------------------------

    async def set_vote(self, contribution_id: int, user_id: int, choice: VoteChoice) -> None:
        """One vote per user per contribution: a second vote replaces the first."""
        await self.db.execute(
            "INSERT INTO jam_votes (contribution_id, user_id, choice, voted_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (contribution_id, user_id) DO UPDATE SET choice=excluded.choice, "
            "voted_at=excluded.voted_at",
            (contribution_id, user_id, choice.value, time.time()),
        )
        await self.db.commit()

    async def tally(self, contribution_id: int) -> Tally:
        async with self.db.execute(
            "SELECT choice, COUNT(*) AS n FROM jam_votes WHERE contribution_id=? GROUP BY choice",
            (contribution_id,),
        ) as cur:
            rows = await cur.fetchall()
        counts = {row["choice"]: int(row["n"]) for row in rows}
        return Tally(keeps=counts.get(VoteChoice.KEEP.value, 0), skips=counts.get(VoteChoice.SKIP.value, 0))

    async def tallies(self, jam_id: str) -> dict[int, Tally]:
        """Votes of every contribution of a jam that has any."""
        async with self.db.execute(
            "SELECT v.contribution_id AS cid, "
            "SUM(v.choice = 'keep') AS keeps, SUM(v.choice = 'skip') AS skips "
            "FROM jam_votes v JOIN jam_contributions c ON c.contribution_id = v.contribution_id "
            "WHERE c.jam_id=? GROUP BY v.contribution_id",
            (jam_id,),
        ) as cur:
            rows = await cur.fetchall()
        return {int(r["cid"]): Tally(int(r["keeps"]), int(r["skips"])) for r in rows}


def _row_to_jam(row: Any) -> Jam:
    return Jam(
        id=row["jam_id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        thread_id=row["thread_id"],
        starter_id=row["starter_id"],
        starter_name=row["starter_name"],
        theme=row["theme"],
        bpm=float(row["bpm"]),
        key=row["music_key"],
        bars=int(row["bars"]),
        beats_per_bar=int(row["beats_per_bar"]),
        backend=row["backend"],
        state=JamState(row["state"]),
        created_at=float(row["created_at"]),
        card_channel_id=row["card_channel_id"],
        card_message_id=row["card_message_id"],
    )


def _row_to_contribution(row: Any) -> Contribution:
    return Contribution(
        id=int(row["contribution_id"]),
        jam_id=row["jam_id"],
        author_id=int(row["author_id"]),
        author_name=row["author_name"],
        prompt=row["prompt"],
        seed=int(row["seed"]),
        position=int(row["position"]),
        state=ContributionState(row["state"]),
        created_at=float(row["created_at"]),
    )
