"""The job service: the policy gate, admission, attachments, fair queueing, running, events, recovery.

Cogs and the command line talk to this seam only: `submit`, `events`,
`cancel`, `queue_for`, `get`, `ack_delivered`. The queue is in memory, the
record is SQLite, so a restart resumes whatever was accepted. A job with an
attachment is recorded first and fetched afterwards (state FETCHING), so a
crash mid-download re-fetches it on restart instead of losing the request.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import defaultdict, deque
from contextlib import suppress
from dataclasses import dataclass
from types import TracebackType

from services.backends.base import Cancelled
from services.backends.record import Lane
from services.backends.registry import lane_of, record_for
from services.errors import (
    QueueFull,
    RateLimited,
    ShuttingDown,
    TooManyJobs,
    UnknownJob,
    UserError,
    backend_cannot_run,
)
from services.inputs import InputFetcher, discard_input, stage_input
from services.jobs.executors import Executor, JobFailed, status_via
from services.jobs.fairqueue import FairQueue, QueuedJob
from services.jobs.models import DiscordDelivery, JobEvent, JobRecord, JobState, MusicRequest
from services.jobs.store import JobStore
from services.logtext import clip, clip_lines
from services.policy import Policy
from services.settings import Settings

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class QueueEntry:
    """One of a user's jobs as `/music queue` shows it."""

    job_id: str
    state: JobState
    prompt: str
    backend: str
    position: int | None  # 1-based place in the queue while queued
    eta_s: float | None


RESTARTING = "The bot is restarting — please try again in a minute."


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def new_error_id() -> str:
    """A short id users can quote and operators can grep for in the log."""
    return secrets.token_hex(3).upper()


class JobService:
    """Owns the queue and the workers. Use as `async with JobService(...) as jobs:`."""

    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        executor: Executor,
        policy: Policy,
        *,
        inputs: InputFetcher | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.executor = executor
        self.policy = policy
        self.inputs = inputs or InputFetcher(settings)
        self._fetching: dict[str, asyncio.Task[None]] = {}  # attachment downloads in flight
        self._queue = FairQueue()
        self._records: dict[str, JobRecord] = {}  # queued and running jobs
        self._reserved: dict[str, MusicRequest] = {}  # admitted, being deferred, not yet submitted
        self._running: dict[str, asyncio.Task[None]] = {}
        self._running_by_user: defaultdict[int, int] = defaultdict(int)
        self._running_by_lane: defaultdict[Lane, int] = defaultdict(int)  # lanes from the backends' records
        self._recent_submits: defaultdict[int, deque[float]] = defaultdict(deque)
        self._subscribers: set[asyncio.Queue[JobEvent]] = set()
        self._wakeup = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._runtime_ema: dict[str, float] = {}  # per backend; before any finished, its record's guess
        self._progress: dict[str, tuple[str, int, int]] = {}
        self._closing = False
        self._accepting = True  # False once a shutdown began: no new jobs, none started
        self._undelivered: dict[str, asyncio.Event] = {}  # finished here, outcome not yet acknowledged

    # --- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> JobService:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def start(self) -> None:
        await self.executor.start()
        try:
            await self._recover()
        except BaseException:  # a failed or cancelled start leaves no worker behind
            await self.executor.close()
            raise
        self._dispatcher = asyncio.create_task(self._dispatch_loop(), name="promptjam-dispatcher")

    @property
    def accepting(self) -> bool:
        """False once a shutdown began (`stop_accepting`, `drain`)."""
        return self._accepting

    def stop_accepting(self) -> None:
        """Refuse new jobs (a friendly ShuttingDown) and start no queued ones: they wait for the next run."""
        self._accepting = False

    async def drain(self, grace_s: float, *, hurry: asyncio.Event | None = None) -> list[str]:
        """The first half of a clean stop: accept nothing new, give running jobs up to `grace_s` to finish
        and their outcomes to reach the user (`ack_delivered`). Returns the ids still running then: `close`
        interrupts those and the next start resumes them. Setting `hurry` ends the wait at once."""
        self.stop_accepting()
        running = dict(self._running)

        async def settled() -> None:
            for task in running.values():
                await asyncio.wait([task])  # never raises the job's error, never cancels the job
            while pending := [event for event in self._undelivered.values() if not event.is_set()]:
                for event in pending:
                    await event.wait()

        waiters: set[asyncio.Future[object]] = {asyncio.ensure_future(settled())}
        if hurry is not None:
            waiters.add(asyncio.ensure_future(hurry.wait()))
        try:
            await asyncio.wait(waiters, timeout=grace_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        return [job_id for job_id, task in running.items() if not task.done()]

    async def close(self) -> None:
        """Running jobs are interrupted and stay 'running' so a restart resumes them."""
        self._closing = True
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with suppress(asyncio.CancelledError):
                await self._dispatcher
        tasks = [*self._running.values(), *self._fetching.values()]  # downloads stay FETCHING: re-fetched
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task
        await self.inputs.close()
        await self.executor.close()

    async def _recover(self) -> None:
        """Requeue what was queued or running when the last process stopped; fetch again what was fetching.
        A job started JOB_MAX_ATTEMPTS times, each start ended by the process dying, is failed instead."""
        for record in await self.store.unfinished():
            if record.state is not JobState.FETCHING and record.attempts >= self.settings.job_max_attempts:
                await self._give_up(record)
                continue
            self._records[record.job_id] = record
            if record.state is JobState.FETCHING:
                log.info("fetching the attachment of job %s again after the restart", record.job_id)
                self._start_fetch(record)
                continue
            if record.state is JobState.RUNNING:
                await self.store.mark_queued(record.job_id)
                record.state = JobState.QUEUED
            self._queue.push(QueuedJob(record.job_id, record.request.user_id))
            log.info("resuming job %s from before the restart", record.job_id)
        self._wakeup.set()

    async def _give_up(self, record: JobRecord) -> None:
        """Every start of this job ended with the bot dying (clean shutdowns give their start back), so
        running it again would most likely take the bot down again: fail it, and say so."""
        error_id = new_error_id()
        log.error(
            "job %s was being made each of the %d times the bot died; failing it instead of resuming "
            "[error %s] (backend %s)",
            record.job_id,
            record.attempts,
            error_id,
            record.request.backend,
        )
        await self._finish_failed(
            record,
            f"This piece stopped the bot {_times(record.attempts)} while it was being made, "
            "so I gave up on it.",
            error_id,
        )

    # --- events --------------------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[JobEvent]:
        """A queue receiving every job event from now on. Call `unsubscribe` when done."""
        q: asyncio.Queue[JobEvent] = asyncio.Queue()
        self._subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[JobEvent]) -> None:
        self._subscribers.discard(q)

    def _emit(self, event: JobEvent) -> None:
        for q in self._subscribers:
            q.put_nowait(event)

    def _emit_positions(self) -> None:
        for job_id, pos in self._queue.positions().items():
            self._emit(JobEvent(job_id, "queued", position=pos, eta_s=self._eta_for_position(job_id, pos)))

    # --- admission -----------------------------------------------------------------------------

    def admit(self, request: MusicRequest, *, reserve: str | None = None) -> None:
        """Raise a UserError if this request would be refused now (policy, backend, queue, limits, rate).

        With `reserve=job_id` an admitted request also holds its place until `submit` (or `release`),
        so two commands arriving together cannot both take the last slot.
        """
        if not self._accepting:
            raise ShuttingDown(RESTARTING)
        self.policy.check(request)  # first: "off in this server" says more than "can't run here"
        status = status_via(self.executor, request.backend, self.settings)
        if not status.available:
            raise backend_cannot_run(request.backend, status.reason)
        waiting = [r.request for r in self._records.values()] + list(self._reserved.values())
        if len(waiting) >= self.settings.queue_size:
            raise QueueFull("The queue is full right now — please try again in a minute.")
        mine = sum(1 for r in waiting if r.user_id == request.user_id)
        if request.user_id and mine >= self.settings.per_user_queued_jobs:
            raise TooManyJobs(
                f"You already have {mine} pieces in the queue (the limit is "
                f"{self.settings.per_user_queued_jobs}). Wait for one to finish, or `/music cancel` one."
            )
        wait = self._rate_wait(request.user_id)
        if wait is not None:
            raise RateLimited(f"You're making music faster than this bot allows — try again in {wait} s.")
        if reserve is not None:
            self._reserved[reserve] = request
            if request.user_id:
                self._recent_submits[request.user_id].append(time.monotonic())

    def release(self, job_id: str) -> None:
        """Give back a reservation that will not be submitted."""
        self._reserved.pop(job_id, None)

    async def submit(
        self, job_id: str, request: MusicRequest, delivery: DiscordDelivery | None = None
    ) -> JobRecord:
        """Accept a job or raise a UserError saying why not. Submitting the same id twice is harmless."""
        existing = self._records.get(job_id) or await self.store.get(job_id)
        if existing is not None:
            return existing
        if not self._accepting:
            self._reserved.pop(job_id, None)
            raise ShuttingDown(RESTARTING)
        if job_id in self._reserved:
            self.policy.check(request)  # the request may have changed since it was admitted
        else:
            self.admit(request, reserve=job_id)

        state = JobState.FETCHING if request.needs_input else JobState.QUEUED
        record = JobRecord(job_id, request, state, time.time(), delivery=delivery)
        try:
            inserted = await self.store.insert(record)
            if inserted:
                self._records[job_id] = record
        finally:
            self._reserved.pop(job_id, None)  # the record now holds the place the reservation held
        if not inserted:
            stored = await self.store.get(job_id)
            assert stored is not None
            return stored
        if record.state is JobState.FETCHING:
            self._start_fetch(record)
        else:
            self._enqueue(record)
        return record

    def _enqueue(self, record: JobRecord) -> None:
        self._queue.push(QueuedJob(record.job_id, record.request.user_id))
        pos = self._queue.positions().get(record.job_id)
        self._emit(
            JobEvent(record.job_id, "queued", position=pos, eta_s=self._eta_for_position(record.job_id, pos))
        )
        self._wakeup.set()

    # --- attachments ---------------------------------------------------------------------------

    def _start_fetch(self, record: JobRecord) -> None:
        self._fetching[record.job_id] = asyncio.create_task(
            self._fetch(record), name=f"fetch-{record.job_id}"
        )

    async def _fetch(self, record: JobRecord) -> None:
        """Download and stage the job's attachment, then queue it; any failure fails the job, said plainly."""
        job_id = record.job_id
        url = record.request.input_url
        assert url is not None
        self._emit(JobEvent(job_id, "progress", stage="downloading your file"))
        try:
            data = await self.inputs.fetch(url)
            path = await asyncio.to_thread(stage_input, self.settings.inputs_dir, job_id, data)
            staged = record.request.derive(input_path=path)
            if not await self.store.mark_fetched(job_id, staged):
                return  # cancelled meanwhile
        except asyncio.CancelledError:
            raise  # closing (the record stays FETCHING: the next start fetches again) or a cancel
        except UserError as exc:
            log.info("job %s: attachment not fetched: %s", job_id, exc.message)
            self._records.pop(job_id, None)
            await self._finish_failed(record, exc.message, None)
            return
        except Exception:
            error_id = new_error_id()
            log.exception("job %s: fetching its attachment crashed [error %s]", job_id, error_id)
            self._records.pop(job_id, None)
            await self._finish_failed(record, "Something went wrong while fetching your file.", error_id)
            return
        finally:
            if self._fetching.get(job_id) is asyncio.current_task():
                del self._fetching[job_id]
        record.request = staged
        record.state = JobState.QUEUED
        self._enqueue(record)

    def _rate_wait(self, user_id: int) -> int | None:
        """Seconds until this user may submit again, or None if they may now."""
        if not user_id:
            return None
        now = time.monotonic()
        window = self._recent_submits[user_id]
        while window and now - window[0] > 60.0:
            window.popleft()
        if len(window) >= self.settings.user_jobs_per_minute:
            return int(60.0 - (now - window[0])) + 1
        return None

    # --- running -------------------------------------------------------------------------------

    def _lane_capacity(self, lane: Lane) -> int:
        return self.settings.model_workers if lane is Lane.MODEL else self.settings.workers

    def _expected_s(self, backend: str) -> float:
        """A job's expected run time: what this backend's jobs took lately, else its record's guess."""
        if backend in self._runtime_ema:
            return self._runtime_ema[backend]
        found = record_for(backend)
        return found.first_estimate_s if found is not None else 10.0

    def _may_run(self, user_id: int, job_id: str) -> bool:
        if not self._accepting:
            return False  # shutting down: queued jobs wait in the record for the next start
        record = self._records[job_id]
        room = self.executor.has_room(record.request.backend)
        if room is False:
            return False  # workers elsewhere: none free, or Redis down; it waits here, safe in the record
        lane = lane_of(record.request.backend)
        if room is None and self._running_by_lane[lane] >= self._lane_capacity(lane):
            return False
        return not user_id or self._running_by_user[user_id] < self.settings.per_user_concurrent_jobs

    async def _dispatch_loop(self) -> None:
        while True:
            # Woken by a new job or a finished one; and every second while jobs wait, because room on
            # workers elsewhere (one starting, Redis coming back) arrives without an event here.
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=1.0 if len(self._queue) else None)
            self._wakeup.clear()
            while True:
                item = self._queue.pop(self._may_run)
                if item is None:
                    break
                record = self._records[item.job_id]
                self._running_by_user[item.user_id] += 1
                self._running_by_lane[lane_of(record.request.backend)] += 1
                self._running[item.job_id] = asyncio.create_task(self._run(record), name=f"job-{item.job_id}")
                self._emit_positions()

    async def _run(self, record: JobRecord) -> None:
        job_id = record.job_id
        request = record.request
        lane = lane_of(request.backend)  # as counted when it was dispatched
        record.state = JobState.RUNNING
        await self.store.mark_running(job_id)
        self._emit(JobEvent(job_id, "started", eta_s=self._expected_s(request.backend)))
        started = time.monotonic()

        def on_progress(stage: str, step: int, total: int) -> None:
            self._progress[job_id] = (stage, step, total)
            self._emit(
                JobEvent(
                    job_id,
                    "progress",
                    stage=stage,
                    step=step,
                    total=total,
                    eta_s=self._eta_running(job_id, started),
                )
            )

        # Jobs made by workers elsewhere are timed there, from their start on a worker: time waiting for a
        # worker, or for Redis to come back, is not the piece's fault (services/workers/submit.py).
        remote = self.executor.has_room(request.backend) is not None
        try:
            result = await asyncio.wait_for(
                self.executor.run(job_id, request, on_progress),
                timeout=None if remote else self.settings.job_timeout_s,
            )
        except Cancelled:
            await self._finish_failed(record, "Cancelled.", None, cancelled=True)
        except TimeoutError:
            self.executor.cancel(job_id)
            await self._finish_failed(
                record, f"This piece took longer than {self.settings.job_timeout_s} s and was stopped.", None
            )
        except JobFailed as exc:
            if not self._accepting and not exc.user_facing:
                # Stopping: a worker killed by the same stop (a service manager signals the whole
                # process group) is an interruption, not the job's fault. Leave it 'running' in the
                # record: the next start runs it again.
                log.info("job %s was interrupted by the shutdown; it resumes at the next start", job_id)
                return
            if exc.user_facing:
                log.info("job %s failed: %s", job_id, clip(exc.message, 300))
                await self._finish_failed(record, exc.template, None, values=exc.values)
            else:
                error_id = new_error_id()
                log.error(
                    "job %s failed [error %s]: %s\n%s",
                    job_id,
                    error_id,
                    clip(exc.message, 300),
                    clip_lines(exc.details or ""),
                )
                await self._finish_failed(record, "Something went wrong while making this piece.", error_id)
        except asyncio.CancelledError:
            # The service is closing: leave the job 'running' in the record so a restart resumes it; a clean
            # stop is not the job's doing, so this start does not count towards JOB_MAX_ATTEMPTS.
            if self._closing:
                await self.store.give_back_attempt(job_id)
            raise
        except Exception:
            error_id = new_error_id()
            log.exception("job %s crashed [error %s]", job_id, error_id)
            await self._finish_failed(record, "Something went wrong while making this piece.", error_id)
        else:
            elapsed = time.monotonic() - started
            prev = self._runtime_ema.get(request.backend, elapsed)
            self._runtime_ema[request.backend] = 0.7 * prev + 0.3 * elapsed
            await self.store.mark_done(job_id, result)
            record.state = JobState.DONE
            record.result = result
            self._await_delivery(record)
            if self.settings.input_retention_hours == 0:
                await self._discard_input(record)
            self._emit(JobEvent(job_id, "done"))
        finally:
            self._running.pop(job_id, None)
            self._progress.pop(job_id, None)
            self._running_by_user[request.user_id] -= 1
            self._running_by_lane[lane] -= 1
            if not self._closing:
                self._records.pop(job_id, None)
                self._wakeup.set()

    async def _finish_failed(
        self,
        record: JobRecord,
        reason: str,
        error_id: str | None,
        *,
        cancelled: bool = False,
        values: dict[str, str] | None = None,
    ) -> None:
        """`reason` is our text with `{placeholders}` for `values` (untrusted, escaped where shown)."""
        values = dict(values or {})
        await self.store.mark_failed(record.job_id, reason, error_id, cancelled=cancelled, values=values)
        record.state = JobState.CANCELLED if cancelled else JobState.FAILED
        record.error = reason
        record.error_values = values
        record.error_id = error_id
        self._await_delivery(record)
        await self._discard_input(record)  # no button can remake a failed piece: its attachment is done with
        self._emit(
            JobEvent(
                record.job_id,
                "cancelled" if cancelled else "failed",
                message=record.error_text() or "",
                error_id=error_id,
            )
        )

    async def _discard_input(self, record: JobRecord) -> None:
        """Delete the attachment this job staged: its own folder only (a derived job uses its parent's)."""
        if record.request.input_url is not None or record.request.input_path is not None:
            await asyncio.to_thread(discard_input, self.settings.inputs_dir, record.job_id)

    # --- estimates -----------------------------------------------------------------------------

    def _eta_for_position(self, job_id: str, position: int | None) -> float | None:
        if position is None:
            return None
        record = self._records.get(job_id)
        backend = record.request.backend if record else self.settings.default_backend
        per_job = self._expected_s(backend)
        rounds = (position - 1) // self._lane_capacity(lane_of(backend)) + 1
        return per_job * (rounds + 1)

    def _eta_running(self, job_id: str, started: float) -> float | None:
        record = self._records.get(job_id)
        if record is None:
            return None
        expected = self._expected_s(record.request.backend)
        return max(0.5, expected - (time.monotonic() - started))

    # --- user operations -----------------------------------------------------------------------

    async def cancel(self, job_id: str, user_id: int | None) -> JobRecord:
        """Cancel a queued or running job. `user_id` None skips the ownership check (operators)."""
        record = self._records.get(job_id)
        if record is None or (user_id is not None and record.request.user_id != user_id):
            raise UnknownJob("I can't find a queued or running piece of yours with that id.")
        fetch = self._fetching.pop(job_id, None)
        if fetch is not None:  # still downloading its attachment: stop that
            fetch.cancel()
            with suppress(asyncio.CancelledError):
                await fetch
        queued = self._queue.remove(job_id)  # (a download that just finished has queued it)
        if fetch is not None or queued:
            self._records.pop(job_id, None)
            await self._finish_failed(record, "Cancelled.", None, cancelled=True)
            self._emit_positions()
        elif job_id in self._running:
            self.executor.cancel(job_id)
        return record

    def queue_for(self, user_id: int) -> list[QueueEntry]:
        """The user's queued and running jobs, in the order they will run."""
        positions = self._queue.positions()
        entries = []
        for job_id, record in self._records.items():
            if record.request.user_id != user_id:
                continue
            pos = positions.get(job_id)
            eta = self._eta_for_position(job_id, pos) if pos else None
            entries.append(
                QueueEntry(job_id, record.state, record.request.prompt, record.request.backend, pos, eta)
            )
        entries.sort(key=lambda e: e.position or 0)
        return entries

    def queue_length(self) -> int:
        return len(self._records)

    def position_of(self, job_id: str) -> int | None:
        return self._queue.positions().get(job_id)

    def progress_of(self, job_id: str) -> tuple[str, int, int] | None:
        return self._progress.get(job_id)

    async def get(self, job_id: str) -> JobRecord | None:
        record = self._records.get(job_id)
        if record is not None:
            return record
        return await self.store.get(job_id)

    async def wait(self, job_id: str) -> JobRecord:
        """Wait until a job finishes (done, failed or cancelled) and return its record."""
        q = self.subscribe()
        try:
            record = await self.get(job_id)
            while record is not None and not record.state.finished:
                event = await q.get()
                if event.job_id == job_id and event.kind in ("done", "failed", "cancelled"):
                    record = await self.store.get(job_id)
            if record is None:
                raise UnknownJob(f"no job {job_id}")
            return record
        finally:
            self.unsubscribe(q)

    async def claim_delivery(self, job_id: str) -> bool:
        """The right to post this job's outcome now; False while someone else (alive) holds it, or it's done.
        The claim/ack pair is what keeps a job that ran twice, or two retrying senders, from posting twice."""
        return await self.store.claim_delivery(job_id)

    async def release_delivery(self, job_id: str) -> None:
        """A send failed: let a later attempt (this process's or another's) claim it again."""
        await self.store.release_delivery(job_id)

    async def ack_delivered(self, job_id: str, failure: str | None = None) -> None:
        """The outcome reached the user, or (`failure` says why) never can: never post it again."""
        await self.store.mark_delivered(job_id, failure)
        event = self._undelivered.pop(job_id, None)
        if event is not None:
            event.set()

    def _await_delivery(self, record: JobRecord) -> None:
        """Note a finished outcome someone will post, so a shutdown can wait for it (see `drain`)."""
        if record.delivery is not None:
            self._undelivered.setdefault(record.job_id, asyncio.Event())

    async def undelivered(self) -> list[JobRecord]:
        """Finished Discord jobs whose outcome has not reached the user yet, oldest first."""
        return await self.store.undelivered()
