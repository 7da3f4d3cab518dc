"""`promptjam worker`: one process that owns its models and makes the jobs of the backends it serves.

Start one per GPU (or per few CPU cores). It checks which of its backends can run on this machine, loads
their models once, announces itself, and then takes jobs from those backends' streams: up to `concurrency`
at once, so a model backend's batcher (services/backends/batching.py) groups jobs from many
users into one pipeline call. Progress goes back over the event stream; the outcome and its files go into
Redis (with an expiry) in the same transaction as the final event, and only then is the message acknowledged,
so a worker killed at any point leaves a job another worker takes over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from taskiq.acks import AcknowledgeType
from taskiq.api import run_receiver_task

from services.backends.base import Cancelled
from services.backends.record import Lane
from services.backends.registry import backend_status, enabled_records, lane_of, names, record_for
from services.inputs import discard_input, stage_input
from services.jobs.executors import Executor, JobFailed, make_local_executor
from services.jobs.models import MusicRequest
from services.settings import Settings, SettingsError
from services.workers.announce import ANNOUNCE_EVERY_S, WorkerInfo, announce, withdraw
from services.workers.broker import ReclaimingStreamBroker
from services.workers.connection import BLOCK_MS, OUTAGE_ERRORS, connect, stream_tail
from services.workers.keys import RENDER_TASK, RedisKeys
from services.workers.wire import Outcome, pack

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.25  # least time between two progress events of one job (the last one always goes)
STORE_RETRY_S = 1.0


@dataclass(frozen=True)
class WorkerPlan:
    """What one worker will serve: the backends that can run here, and how many jobs at once."""

    backends: tuple[str, ...]
    concurrency: int
    skipped: tuple[tuple[str, str], ...]  # (backend, why it cannot run here)


def plan_worker(settings: Settings, backends: tuple[str, ...] | None, concurrency: int | None) -> WorkerPlan:
    """Check the backends asked for (or WORKER_BACKENDS, or every enabled one); raise SettingsError for a
    name that is not a backend, skip (and say why) those that cannot run on this machine."""
    if concurrency is not None and not 1 <= concurrency <= 64:
        raise SettingsError("--concurrency must be between 1 and 64")
    wanted = tuple(backends or settings.worker_backends or [r.name for r in enabled_records(settings)])
    unknown = [name for name in wanted if record_for(name) is None]
    if unknown:
        raise SettingsError(f"unknown backend(s) {', '.join(unknown)}; choose from {', '.join(names())}")
    served, skipped = [], []
    for name in dict.fromkeys(wanted):
        status = backend_status(name, settings)
        if status.available:
            served.append(name)
        else:
            skipped.append((name, status.reason))
    return WorkerPlan(tuple(served), concurrency or settings.worker_concurrency, tuple(skipped))


class Worker:
    """One worker process's state: its executor, broker, announcement and the jobs it is making."""

    def __init__(self, settings: Settings, plan: WorkerPlan, *, worker_id: str | None = None) -> None:
        if settings.redis_url is None:
            raise SettingsError("setting REDIS_URL is missing: a worker takes its jobs from Redis")
        for name, why in plan.skipped:
            log.warning("not serving %s: %s", name, why)
        if not plan.backends:
            raise SettingsError("none of this worker's backends can run on this machine")
        self.plan = plan
        # This process's own workers run `concurrency` jobs at once, in each lane.
        self.settings = settings.model_copy(
            update={"workers": plan.concurrency, "model_workers": plan.concurrency}
        )
        self.keys = RedisKeys(settings.redis_prefix)
        self.worker_id = worker_id or f"{socket.gethostname()}-{secrets.token_hex(3)}"
        url = settings.redis_url.get_secret_value()
        self.redis = connect(url)
        self.broker = ReclaimingStreamBroker(
            url,
            streams=[self.keys.jobs(name) for name in plan.backends],
            claim_timeout_s=settings.worker_claim_timeout_s,
            maxlen=settings.redis_stream_maxlen,
            consumer_name=self.worker_id,
        )
        self.broker.is_worker_process = True

        async def render(job_id: str, request_json: str) -> None:  # taskiq renames it: a plain function
            await self.render(job_id, request_json)

        self.broker.register_task(render, task_name=RENDER_TASK)
        cpu = tuple(n for n in plan.backends if lane_of(n) is Lane.CPU)
        model = tuple(n for n in plan.backends if lane_of(n) is Lane.MODEL)
        self.executor: Executor = make_local_executor(self.settings, warm=cpu, model_warm=model)
        self.info = WorkerInfo.here(self.worker_id, plan.backends, plan.concurrency)
        self.running: set[str] = set()
        self.stopping = False
        self.made = 0  # jobs finished here (logs, tests, the bench)
        self._background: set[asyncio.Task[None]] = set()

    # --- one job -------------------------------------------------------------------------------

    async def render(self, job_id: str, request_json: str) -> None:
        """The taskiq task: make one job and store its outcome. Never raises for the job's own failures."""
        if self.stopping:
            await (
                asyncio.Event().wait()
            )  # not acknowledged: cancelled with the receiver, taken over elsewhere
        if job_id in self.running:
            return  # the same job again while it runs here (a renewal lost a race): that run reports
        if await self.redis.exists(self.keys.outcome(job_id), self.keys.finished(job_id)):
            log.info("job %s was already made; skipping the repeated message", job_id)
            return
        if await self.redis.exists(self.keys.cancel(job_id)):
            await self._store(job_id, Outcome("cancelled", worker=self.worker_id))
            return
        self.running.add(job_id)
        try:
            outcome = await self._make(job_id, MusicRequest.from_json(request_json))
        finally:
            self.running.discard(job_id)
        await self._store(job_id, outcome)
        await asyncio.to_thread(self._forget_files, job_id)
        self.made += 1

    async def _make(self, job_id: str, request: MusicRequest) -> Outcome:
        started = time.monotonic()
        try:
            if request.input_path is not None:  # the bot's path means nothing here: its bytes came along
                data = await self.redis.get(self.keys.input(job_id))
                if data is None:
                    return Outcome(
                        "failed",
                        kind="user",
                        message="Your file for this piece is no longer available; please send it again.",
                        worker=self.worker_id,
                    )
                path = await asyncio.to_thread(stage_input, self.settings.inputs_dir, job_id, data)
                request = request.derive(input_path=path)
            await self._emit(job_id, "started")
            log.info("job %s (%s) started", job_id, request.backend)
            result = await self.executor.run(job_id, request, self._progress_sender(job_id))
        except Cancelled:
            return Outcome("cancelled", worker=self.worker_id)
        except JobFailed as exc:
            kind = "user" if exc.user_facing else "internal"
            return Outcome(
                "failed",
                kind=kind,
                message=exc.template,
                values=exc.values,
                details=exc.details,
                worker=self.worker_id,
            )
        except Exception as exc:
            log.exception("job %s crashed in the worker", job_id)
            return Outcome(
                "failed",
                kind="internal",
                message=f"{type(exc).__name__}: {exc}",
                details=traceback.format_exc(),
                worker=self.worker_id,
            )
        log.info("job %s done in %.2f s", job_id, time.monotonic() - started)
        return Outcome("done", result=result, worker=self.worker_id)

    def _progress_sender(self, job_id: str) -> Callable[[str, int, int], None]:
        last = 0.0

        def on_progress(stage: str, step: int, total: int) -> None:  # on the event loop (executors' contract)
            nonlocal last
            now = time.monotonic()
            if now - last < PROGRESS_EVERY_S and step < total:
                return
            last = now
            task = asyncio.get_running_loop().create_task(
                self._emit(job_id, "progress", stage=stage, step=step, total=total)
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)

        return on_progress

    async def _emit(self, job_id: str, kind: str, *, stage: str = "", step: int = 0, total: int = 0) -> None:
        with contextlib.suppress(*OUTAGE_ERRORS):  # progress is best effort; the outcome is not
            await self.redis.xadd(
                self.keys.events,
                {b"job": job_id, b"kind": kind, b"stage": stage, b"step": step, b"total": total},
                maxlen=self.settings.redis_stream_maxlen,
                approximate=True,
            )

    async def _store(self, job_id: str, outcome: Outcome) -> None:
        """Outcome, files and final event in one transaction; retried until Redis takes it."""
        fields = await asyncio.to_thread(pack, outcome, self.settings.results_dir)
        key = self.keys.outcome(job_id)
        kind = outcome.status
        while True:
            try:
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.delete(key)
                    pipe.hset(key, mapping=fields)
                    pipe.expire(key, self.settings.redis_result_ttl_s)
                    pipe.xadd(
                        self.keys.events,
                        {b"job": job_id, b"kind": kind},
                        maxlen=self.settings.redis_stream_maxlen,
                        approximate=True,
                    )
                    await pipe.execute()
                return
            except OUTAGE_ERRORS:
                log.warning("job %s: Redis unreachable while storing its outcome; retrying", job_id)
                await asyncio.sleep(STORE_RETRY_S)

    def _forget_files(self, job_id: str) -> None:
        """The bot has its own copy now (from Redis): this machine keeps nothing of the job."""
        shutil.rmtree(self.settings.results_dir / job_id, ignore_errors=True)
        discard_input(self.settings.inputs_dir, job_id)

    # --- around the jobs -----------------------------------------------------------------------

    async def _announce_forever(self) -> None:
        away = False
        while True:
            try:
                await announce(self.redis, self.keys, self.info)
                if away:
                    log.info("Redis is reachable again; announced this worker")
                away = False
            except OUTAGE_ERRORS:
                if not away:
                    log.warning("Redis is unreachable; will announce again when it is back")
                away = True
            await asyncio.sleep(ANNOUNCE_EVERY_S)

    async def _watch_cancels(self) -> None:
        cursor: bytes | None = None  # from the newest cancel once Redis answers: older ones are not ours
        while True:
            try:
                if cursor is None:
                    cursor = await stream_tail(self.redis, self.keys.control)
                replies = await self.redis.xread({self.keys.control: cursor}, block=BLOCK_MS, count=100)
            except OUTAGE_ERRORS:
                await asyncio.sleep(STORE_RETRY_S)
                continue
            for _stream, entries in replies or []:
                for entry_id, fields in entries:
                    cursor = entry_id
                    job_id = fields.get(b"cancel", b"").decode()
                    if job_id in self.running:
                        log.info("job %s cancelled by the bot", job_id)
                        self.executor.cancel(job_id)

    async def _wait_for_redis(self, stop: asyncio.Event) -> None:
        """The worker may start before Redis does: wait for it, saying so once."""
        said = False
        while not stop.is_set():
            try:
                await self.redis.ping()
                return
            except OUTAGE_ERRORS:
                if not said:
                    log.warning("waiting for Redis to become reachable")
                    said = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=STORE_RETRY_S)

    async def serve(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set; running jobs then get SHUTDOWN_GRACE_S (others take the rest)."""
        await self._wait_for_redis(stop)
        if stop.is_set():
            return
        await self.executor.start()
        await self.broker.startup()
        tasks = [
            asyncio.create_task(self._announce_forever(), name="promptjam-announce"),
            asyncio.create_task(self._watch_cancels(), name="promptjam-cancels"),
            asyncio.create_task(
                run_receiver_task(
                    self.broker,
                    max_async_tasks=self.plan.concurrency,
                    max_prefetch=0,
                    ack_time=AcknowledgeType.WHEN_SAVED,
                ),
                name="promptjam-receiver",
            ),
        ]
        log.info(
            "worker %s serving %s, %d job(s) at once",
            self.worker_id,
            ", ".join(self.plan.backends),
            self.plan.concurrency,
        )
        try:
            await stop.wait()
        finally:
            self.stopping = True
            with contextlib.suppress(*OUTAGE_ERRORS):
                await withdraw(self.redis, self.keys, self.worker_id)
            deadline = time.monotonic() + self.settings.shutdown_grace_s
            while self.running and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            if self.running:
                log.info("%d job(s) still running; another worker takes them over", len(self.running))
            for task in [*tasks, *self._background]:
                task.cancel()
            for task in [*tasks, *self._background]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(Exception):
                await self.broker.shutdown()
            await self.executor.close()
            with contextlib.suppress(Exception):
                await self.redis.aclose()
