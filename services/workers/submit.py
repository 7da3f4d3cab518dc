"""The bot's side of the workers: an Executor that sends jobs through Redis and waits for their events.

The job service above it is unchanged: admission, fairness and per-user limits stay in the bot, which hands
a remote backend's job over only while some live worker serves that backend and has room (`has_room`), so
the order users see is the bot's fair order, not first-come in Redis. Everything a restart or an outage could
break is keyed by the job id (the interaction id): a second submit of the same id sends nothing, an outcome a
worker stored while the bot was down is picked up by the next start, and a job lost with a Redis restart is
sent again. Backends outside REMOTE_BACKENDS run in this process's workers, as without Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

from taskiq.exceptions import SendTaskError
from taskiq.kicker import AsyncKicker

from services.backends.base import BackendStatus, Cancelled
from services.backends.registry import is_enabled, names, record_for
from services.jobs.executors import Executor, JobFailed, OnProgress, raise_for
from services.jobs.models import MusicRequest, MusicResult
from services.settings import Settings
from services.workers.announce import WorkerInfo, live_workers
from services.workers.broker import ReclaimingStreamBroker
from services.workers.connection import BLOCK_MS, OUTAGE_ERRORS, connect, stream_tail
from services.workers.keys import RENDER_TASK, RedisKeys
from services.workers.wire import Outcome, unpack

log = logging.getLogger(__name__)

WATCH_EVERY_S = 1.0  # how often the bot looks at which workers are alive (and whether Redis is)
UNREACHABLE = (
    "the workers that make it can't be reached right now (their queue server is down); "
    "please try again in a minute"
)
NO_WORKER = "no worker is running it right now; please try again later, or pick another backend"


@dataclass(frozen=True)
class _Event:
    kind: str  # started, progress, done, failed, cancelled; or "reconnected" (look again, Redis was away)
    stage: str = ""
    step: int = 0
    total: int = 0


RECONNECTED = _Event("reconnected")


class _TookTooLong(Exception):
    """JOB_TIMEOUT_S ran out on the worker. Not TimeoutError: that is an OSError, i.e. an outage here."""


RETRYABLE: tuple[type[Exception], ...] = (*OUTAGE_ERRORS, SendTaskError)  # a send fails as SendTaskError


def remote_backends(settings: Settings) -> frozenset[str]:
    """The backends whose jobs go to workers: REMOTE_BACKENDS, or every one when it is empty."""
    return frozenset(settings.remote_backends or names())


class RedisExecutor:
    """Jobs of REMOTE_BACKENDS to workers through Redis; the rest to `local`."""

    def __init__(self, settings: Settings, *, local: Executor) -> None:
        assert settings.redis_url is not None
        self.settings = settings
        self.local = local
        self.keys = RedisKeys(settings.redis_prefix)
        self.remote = remote_backends(settings)
        url = settings.redis_url.get_secret_value()
        self._redis = connect(url)
        streams = [self.keys.jobs(name) for name in sorted(self.remote)] or [self.keys.jobs("none")]
        self._broker = ReclaimingStreamBroker(
            url,
            streams=streams,
            claim_timeout_s=settings.worker_claim_timeout_s,
            maxlen=settings.redis_stream_maxlen,
        )
        self._workers: list[WorkerInfo] = []
        self._reachable = False
        self._up = asyncio.Event()  # set while Redis answers
        self._waiters: dict[str, asyncio.Queue[_Event]] = {}  # remote jobs this process waits for
        self._backend_of: dict[str, str] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.local.start()
        await self._broker.startup()
        await self._look()  # admission right after start already knows the workers (or that Redis is down)
        cursor = await self._events_tail()
        self._tasks = [
            asyncio.create_task(self._watch(), name="promptjam-worker-watch"),
            asyncio.create_task(self._read_events(cursor), name="promptjam-worker-events"),
        ]

    async def close(self) -> None:
        for task in [*self._tasks, *self._background]:
            task.cancel()
        for task in [*self._tasks, *self._background]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.local.close()
        with contextlib.suppress(Exception):
            await self._broker.shutdown()
        with contextlib.suppress(Exception):
            await self._redis.aclose()

    # --- what the job service asks -------------------------------------------------------------

    def _is_remote(self, backend: str) -> bool:
        return (
            backend in self.remote and record_for(backend) is not None and is_enabled(backend, self.settings)
        )

    def serving(self, backend: str) -> list[WorkerInfo]:
        return [w for w in self._workers if backend in w.backends]

    def backend_status(self, name: str) -> BackendStatus | None:
        if not self._is_remote(name):
            return self.local.backend_status(name)  # unknown, disabled or made here: the local answer
        found = record_for(name)
        description = found.description if found is not None else ""
        if not self._reachable:
            return BackendStatus(name, False, UNREACHABLE, description)
        serving = self.serving(name)
        if not serving:
            return BackendStatus(name, False, NO_WORKER, description)
        slots = sum(w.concurrency for w in serving)
        where = "worker" if len(serving) == 1 else "workers"
        return BackendStatus(name, True, f"ready on {len(serving)} {where} ({slots} at once)", description)

    def has_room(self, backend: str) -> bool | None:
        if not self._is_remote(backend):
            return self.local.has_room(backend)
        if not self._reachable:
            return False
        serving = self.serving(backend)
        capacity = sum(w.concurrency for w in serving)
        shared = {b for w in serving for b in w.backends}  # jobs of these compete for the same workers
        busy = sum(1 for b in self._backend_of.values() if b in shared)
        return busy < capacity

    # --- running -------------------------------------------------------------------------------

    async def run(self, job_id: str, request: MusicRequest, on_progress: OnProgress) -> MusicResult:
        if not self._is_remote(request.backend):
            return await self.local.run(job_id, request, on_progress)
        waiter: asyncio.Queue[_Event] = asyncio.Queue()
        self._waiters[job_id] = waiter
        self._backend_of[job_id] = request.backend
        try:
            return await self._run_remote(job_id, request, on_progress, waiter)
        except _TookTooLong:
            raise TimeoutError() from None  # the job service says "took longer than JOB_TIMEOUT_S"
        finally:
            self._waiters.pop(job_id, None)
            self._backend_of.pop(job_id, None)

    async def _run_remote(
        self, job_id: str, request: MusicRequest, on_progress: OnProgress, waiter: asyncio.Queue[_Event]
    ) -> MusicResult:
        loop = asyncio.get_running_loop()
        deadline: float | None = None  # JOB_TIMEOUT_S from its first start on a worker
        while True:
            try:
                outcome = await self._stored_outcome(job_id)
                if outcome is not None:
                    return await self._conclude(job_id, outcome)
                await self._send(job_id, request)
                while True:  # until the job ends (then its outcome is stored) or Redis was away
                    remaining = None if deadline is None else max(0.0, deadline - loop.time())
                    try:
                        event = await asyncio.wait_for(waiter.get(), remaining)
                    except TimeoutError:
                        if not self._reachable:  # Redis is away: the piece is not late by its own doing
                            deadline = loop.time() + self.settings.job_timeout_s / 10
                            continue
                        self.cancel(job_id)
                        raise _TookTooLong() from None
                    if event.kind == "started" and deadline is None:
                        deadline = loop.time() + self.settings.job_timeout_s
                    if event.kind in ("started", "progress"):
                        on_progress(event.stage or "starting", event.step, event.total)
                    elif event.kind in ("done", "failed", "cancelled", "reconnected"):
                        break
            except RETRYABLE as exc:
                log.warning(
                    "job %s: Redis unreachable (%s); waiting for it to come back", job_id, type(exc).__name__
                )
                await asyncio.sleep(WATCH_EVERY_S)
                await self._up.wait()
                await asyncio.sleep(0)  # `_up` is set before the reader replays: let it settle

    async def _send(self, job_id: str, request: MusicRequest) -> None:
        """Send the job once: a job already sent (a restart resuming it) is not sent again."""
        ttl = self.settings.redis_result_ttl_s
        if await self._redis.exists(self.keys.submitted(job_id)):
            return
        if request.input_path is not None:
            data = await asyncio.to_thread(Path(request.input_path).read_bytes)
            await self._redis.set(self.keys.input(job_id), data, ex=ttl)
        if not await self._redis.set(self.keys.submitted(job_id), b"1", nx=True, ex=ttl):
            return
        try:
            kicker: AsyncKicker[..., None] = AsyncKicker(RENDER_TASK, self._broker, {})
            await (
                kicker.with_task_id(job_id)
                .with_labels(queue_name=self.keys.jobs(request.backend))
                .kiq(job_id, request.to_json())
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await self._redis.delete(self.keys.submitted(job_id))
            raise
        log.info("job %s sent to the %s workers", job_id, request.backend)

    async def _stored_outcome(self, job_id: str) -> Outcome | None:
        fields = await self._redis.hgetall(self.keys.outcome(job_id))
        if not fields:
            return None
        return await asyncio.to_thread(unpack, fields, self.settings.results_dir, job_id)

    async def _conclude(self, job_id: str, outcome: Outcome) -> MusicResult:
        """The stored outcome, returned or raised as in-process executors do; the Redis copy is done with."""
        with contextlib.suppress(*OUTAGE_ERRORS):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(self.keys.finished(job_id), outcome.status, ex=self.settings.redis_result_ttl_s)
                pipe.delete(self.keys.outcome(job_id), self.keys.input(job_id))
                await pipe.execute()
        if outcome.status == "done" and outcome.result is not None:
            log.info("job %s made by worker %s", job_id, outcome.worker or "?")
            return outcome.result
        if outcome.status == "cancelled":
            raise Cancelled()
        raise_for(outcome.kind or "internal", outcome.message, outcome.values, outcome.details)
        raise JobFailed("unreachable", user_facing=False)  # raise_for always raises

    def cancel(self, job_id: str) -> None:
        if job_id not in self._waiters:
            self.local.cancel(job_id)
            return
        task = asyncio.get_running_loop().create_task(self._send_cancel(job_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_cancel(self, job_id: str) -> None:
        try:
            await self._redis.set(self.keys.cancel(job_id), b"1", ex=self.settings.redis_result_ttl_s)
            await self._redis.xadd(
                self.keys.control, {b"cancel": job_id.encode()}, maxlen=self.settings.redis_stream_maxlen
            )
        except OUTAGE_ERRORS:
            log.warning("job %s: could not send its cancel (Redis unreachable)", job_id)

    # --- watching ------------------------------------------------------------------------------

    async def _look(self) -> None:
        try:
            workers = await live_workers(self._redis, self.keys)
        except OUTAGE_ERRORS:
            if self._reachable:
                log.warning("Redis is unreachable: model jobs wait, new ones are refused until it is back")
            self._reachable = False
            self._up.clear()
            return
        if not self._reachable:
            log.info("Redis reachable; %d worker(s) alive", len(workers))
        self._workers = workers
        self._reachable = True

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_EVERY_S)
            await self._look()

    async def _events_tail(self) -> bytes:
        """The newest event id now: later events are read (earlier outcomes wait in their hashes)."""
        try:
            return await stream_tail(self._redis, self.keys.events)
        except OUTAGE_ERRORS:
            return b"0-0"

    async def _read_events(self, cursor: bytes) -> None:
        away = False
        while True:
            try:
                replies = await self._redis.xread({self.keys.events: cursor}, block=BLOCK_MS, count=200)
            except OUTAGE_ERRORS:
                away = True
                self._reachable = False
                self._up.clear()
                await asyncio.sleep(WATCH_EVERY_S)
                continue
            if away:  # every waiting job looks again: its outcome may have landed, or it may need sending
                away = False
                await self._look()
                self._up.set()
                for waiter in self._waiters.values():
                    waiter.put_nowait(RECONNECTED)
            self._up.set()
            for _stream, entries in replies or []:
                for entry_id, fields in entries:
                    cursor = entry_id
                    self._dispatch(fields)

    def _dispatch(self, fields: dict[bytes, bytes]) -> None:
        job_id = fields.get(b"job", b"").decode()
        waiter = self._waiters.get(job_id)
        if waiter is None:
            return
        waiter.put_nowait(
            _Event(
                kind=fields.get(b"kind", b"").decode(),
                stage=fields.get(b"stage", b"").decode(),
                step=int(fields.get(b"step", b"0") or 0),
                total=int(fields.get(b"total", b"0") or 0),
            )
        )
