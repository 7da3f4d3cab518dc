"""Every Redis key and stream promptjam uses, in one place, under one prefix (REDIS_PREFIX).

One job stream per backend, so a worker reads only the backends it serves and the bot sends a job only where
a live worker listens; one event stream for all jobs, read by the bot; one control stream for cancels.
"""

from __future__ import annotations

from dataclasses import dataclass

RENDER_TASK = "promptjam.render"  # the one taskiq task: make one job's music
CONSUMER_GROUP = "promptjam-workers"  # every worker reads the job streams in this group


@dataclass(frozen=True)
class RedisKeys:
    prefix: str

    def jobs(self, backend: str) -> str:
        """The stream of this backend's jobs (taskiq messages)."""
        return f"{self.prefix}:jobs:{backend}"

    @property
    def events(self) -> str:
        """The stream of every job's events: started, progress k/n, done, failed, cancelled."""
        return f"{self.prefix}:events"

    @property
    def control(self) -> str:
        """The stream workers watch for cancels."""
        return f"{self.prefix}:control"

    def worker(self, worker_id: str) -> str:
        """One live worker's announcement; it expires unless the worker renews it."""
        return f"{self.prefix}:worker:{worker_id}"

    @property
    def worker_pattern(self) -> str:
        return f"{self.prefix}:worker:*"

    def submitted(self, job_id: str) -> str:
        """Set once a job was sent: a second submit of the same id (a restart) sends nothing."""
        return f"{self.prefix}:submitted:{job_id}"

    def outcome(self, job_id: str) -> str:
        """A finished job's outcome and files (a hash), with an expiry."""
        return f"{self.prefix}:outcome:{job_id}"

    def finished(self, job_id: str) -> str:
        """Left when the bot took an outcome (and deleted its files from Redis): a repeated message of
        the job (sent again after a Redis restart, or taken over) is then skipped, not made again."""
        return f"{self.prefix}:finished:{job_id}"

    def input(self, job_id: str) -> str:
        """A user's attachment, sent with the job: the worker has no access to the bot's disk."""
        return f"{self.prefix}:input:{job_id}"

    def cancel(self, job_id: str) -> str:
        """Set when a job is cancelled, so a worker that takes it later skips it."""
        return f"{self.prefix}:cancel:{job_id}"

    def autoclaim_lock(self, stream: str) -> str:
        return f"{self.prefix}:autoclaim:{stream}"
