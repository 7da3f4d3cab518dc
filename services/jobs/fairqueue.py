"""Round-robin queue across users: a user with ten jobs does not starve a user with one.

Each user has a FIFO of their own jobs; users take turns in the order they
first queued, and a user whose running jobs are at the cap is skipped until one
finishes.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class QueuedJob:
    job_id: str
    user_id: int


class FairQueue:
    """Per-user FIFOs served in rotation."""

    def __init__(self) -> None:
        self._by_user: OrderedDict[int, deque[str]] = OrderedDict()

    def __len__(self) -> int:
        return sum(len(q) for q in self._by_user.values())

    def push(self, job: QueuedJob) -> None:
        self._by_user.setdefault(job.user_id, deque()).append(job.job_id)

    def remove(self, job_id: str) -> bool:
        for user, jobs in self._by_user.items():
            if job_id in jobs:
                jobs.remove(job_id)
                if not jobs:
                    del self._by_user[user]
                return True
        return False

    def count_for(self, user_id: int) -> int:
        return len(self._by_user.get(user_id, ()))

    def pop(self, may_run: Callable[[int], bool]) -> QueuedJob | None:
        """Next job of the first user in rotation allowed to run one; that user moves to the back."""
        for user in list(self._by_user):
            if not may_run(user):
                continue
            jobs = self._by_user[user]
            job_id = jobs.popleft()
            del self._by_user[user]
            if jobs:
                self._by_user[user] = jobs  # back of the rotation
            return QueuedJob(job_id, user)
        return None

    def order(self) -> Iterator[str]:
        """Job ids in the order they would start if nothing else arrived (ignoring caps)."""
        queues = [list(q) for q in self._by_user.values()]
        depth = max((len(q) for q in queues), default=0)
        for i in range(depth):
            for q in queues:
                if i < len(q):
                    yield q[i]

    def positions(self) -> dict[str, int]:
        """1-based queue position of every queued job."""
        return {job_id: i + 1 for i, job_id in enumerate(self.order())}
