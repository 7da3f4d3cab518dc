"""One base for every SQLite store: open (pragmas, migrations), close, and the connection in between.

A store is a thin subclass: a `name` (its row in `schema_versions`), its `migrations`, and its queries.
Each store has its own connection to the shared file (WAL lets them work side by side); the schema is
brought up to date when the store opens, before any query runs.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

import aiosqlite

from services.sqlite import connect
from services.storage.migrations import Migration, migrate


class SqliteStore:
    """Use as `async with Store(path) as store:` (or `await store.open()` … `await store.close()`)."""

    name: ClassVar[str]  # the store's key in schema_versions: never change it once released
    migrations: ClassVar[tuple[Migration, ...]]  # numbered 1, 2, 3…; append, never edit a released one

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def open(self) -> None:
        if self._db is not None:
            raise RuntimeError(f"{type(self).__name__} is already open")
        db = await connect(self.path)
        try:
            await migrate(db, self.name, self.migrations)
            self._db = db
            await self._opened()
        except BaseException:
            self._db = None
            await db.close()
            raise

    async def _opened(self) -> None:
        """Called once the schema is current: subclasses load caches or start helpers here."""

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError(f"{type(self).__name__} is not open")
        return self._db
