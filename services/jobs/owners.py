"""Who is alive: delivery claims name their owner, and an owner that died no longer holds anything.

Every open JobStore is one owner and holds an exclusive flock on its own file in a folder beside the
database for as long as it is open. The kernel drops a lock when its process ends, however it ends
(a crash or kill -9 included), so another process can tell a dead owner's claim from a live one's at once,
instead of waiting for the claim's lease to run out. Locks are flock(2) locks, which belong to an open
file, so two stores in one process (tests, a quick in-process restart) are told apart as well.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
from pathlib import Path

_OWNER_ID = re.compile(r"^[0-9a-f]{16}$")


class Owners:
    """This store's owner id and lock, and a liveness check for any other owner id."""

    def __init__(self, folder: Path | None) -> None:
        """`folder`: where the lock files live; None for a database no other process can open (:memory:)."""
        self.folder = folder
        self.me = secrets.token_hex(8)
        self._fd: int | None = None

    def start(self) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path(self.me), os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh random name: nobody else holds it
        self._fd = fd

    def stop(self) -> None:
        """Let go: our claims become free for others straight away."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(self.me))
        os.close(self._fd)  # closing drops the lock
        self._fd = None

    def alive(self, owner: str | None) -> bool:
        """Whether `owner` may still be using its claims. Unknown owners (older rows, other layouts) are
        assumed alive, which leaves them to the lease."""
        if owner == self.me:
            return self._fd is not None or self.folder is None
        if owner is None or self.folder is None or not _OWNER_ID.match(owner):
            return True
        path = self._path(owner)
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return False  # it closed cleanly and removed its file
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True  # held (BlockingIOError), or cannot tell: trust the lease
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)  # a crashed owner's leftover; we hold its lock, so nobody else uses it
            return False
        finally:
            os.close(fd)

    def _path(self, owner: str) -> Path:
        assert self.folder is not None
        return self.folder / f"{owner}.lock"
