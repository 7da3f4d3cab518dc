"""Fair queue across users: a user with ten jobs does not starve a user with one.

Each user has a FIFO of their own jobs. The next job comes from the user who was
served longest ago (never-served users first, in arrival order); a user whose
running jobs are at the cap is skipped until one finishes.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# Remember when this many users were last served; older memories matter no more.
_MEMORY = 10_000


@dataclass(frozen=True)
class QueuedJob:
    job_id: str
    user_id: int


class FairQueue:
    """Per-user FIFOs; the least recently served user goes next."""

    def __init__(self) -> None:
        self._by_user: OrderedDict[int, deque[str]] = OrderedDict()  # in order of arrival
        self._last_served: OrderedDict[int, int] = OrderedDict()  # user → tick of their last job
        self._tick = 0

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

    def _turn_order(self, served: dict[int, int]) -> list[int]:
        """Users with queued jobs, least recently served first (stable: arrival order breaks ties)."""
        return sorted(self._by_user, key=lambda user: served.get(user, -1))

    def pop(self, may_run: Callable[[int, str], bool]) -> QueuedJob | None:
        """The next job of the least recently served user allowed to run their next one.

        `may_run(user_id, job_id)` sees each user's next job; a user whose next job may not run now
        (their cap, or that job's lane is full) is skipped this time, keeping their own order.
        """
        for user in self._turn_order(self._last_served):
            jobs = self._by_user[user]
            if not may_run(user, jobs[0]):
                continue
            job_id = jobs.popleft()
            if not jobs:
                del self._by_user[user]
            self._tick += 1
            self._last_served[user] = self._tick
            self._last_served.move_to_end(user)
            while len(self._last_served) > _MEMORY:
                self._last_served.popitem(last=False)
            return QueuedJob(job_id, user)
        return None

    def order(self) -> Iterator[str]:
        """Job ids in the order they would start if nothing else arrived (ignoring caps)."""
        queues = {user: list(jobs) for user, jobs in self._by_user.items()}
        served = dict(self._last_served)
        tick = self._tick
        while queues:
            user = sorted(queues, key=lambda u: served.get(u, -1))[0]
            yield queues[user].pop(0)
            if not queues[user]:
                del queues[user]
            tick += 1
            served[user] = tick

    def positions(self) -> dict[str, int]:
        """1-based queue position of every queued job."""
        return {job_id: i + 1 for i, job_id in enumerate(self.order())}
