"""When to try posting a finished job's outcome again, and when to stop.

Pure policy, no Discord: the deliverer asks how long to wait after the n-th failure in a row and whether a
job is past the give-up horizon. Waits grow exponentially up to a cap; half of each wait is random so that
many jobs failing in the same outage do not all come back at the same instant.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from services.settings import Settings


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float  # wait after the first failure
    max_s: float  # cap on any computed wait
    give_up_s: float  # after this long since the job finished, stop trying
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(settings.delivery_retry_base_s, settings.delivery_retry_max_s, settings.delivery_give_up_s)

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after `failures` failed tries in a row (1 = the first): base · 2^(n-1), capped,
        between half and all of it; never sooner than a rate limit's `retry_after`."""
        cap = min(self.max_s, self.base_s * 2 ** min(max(failures, 1) - 1, 32))
        wait = cap / 2 + self.rng.uniform(0, cap / 2)
        return max(wait, retry_after or 0.0)

    def expired(self, finished_at: float | None, now: float) -> bool:
        """Whether a job that finished at `finished_at` (unix time) is past the give-up horizon."""
        return finished_at is not None and now - finished_at >= self.give_up_s
