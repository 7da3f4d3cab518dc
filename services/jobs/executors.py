"""Where job work runs: worker threads, or worker processes that keep the event loop free.

Both executors take a job and a progress callback and give back a MusicResult
or raise. The process executor is the bot's default: pure-Python composition
holds the GIL, and a busy GIL delays Discord heartbeats; a process does not.
Cancelling or timing out a job in a process kills that worker and starts a new one.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, Protocol

from services.backends.base import BackendStatus, BackendUnavailable, Cancelled
from services.backends.record import Lane
from services.backends.registry import backend_status, enabled_records, lane_of
from services.errors import UserError, literal, render_message
from services.jobs.models import MusicRequest, MusicResult
from services.settings import Settings

log = logging.getLogger(__name__)

OnProgress = Callable[[str, int, int], None]


class JobFailed(Exception):
    """A job ended in error. `user_facing` errors are shown as they are; others get an error id."""

    def __init__(
        self,
        message: str,
        *,
        user_facing: bool,
        details: str | None = None,
        values: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.template = message  # our words, `{placeholders}` for `values` (see services.errors.UserError)
        self.values = dict(values or {})
        self.user_facing = user_facing
        self.details = details  # traceback text for the log, never shown to users

    @property
    def message(self) -> str:
        """Plain text, values cleaned (logs)."""
        return render_message(self.template, self.values)


class Executor(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def run(self, job_id: str, request: MusicRequest, on_progress: OnProgress) -> MusicResult:
        """Run one job; raises Cancelled or JobFailed."""
        ...

    def cancel(self, job_id: str) -> None:
        """Stop a running job as soon as possible (its run() then raises Cancelled)."""
        ...

    def backend_status(self, name: str) -> BackendStatus | None:
        """How a backend whose jobs this executor sends elsewhere (workers on other machines) looks from
        here; None: it runs in this process's workers, so the local check (services.backends) decides."""
        ...

    def has_room(self, backend: str) -> bool | None:
        """False: keep this backend's queued jobs waiting for now (no free worker, Redis down); None: the
        bot's own lane limits decide, as for jobs made here."""
        ...


def status_via(executor: Executor, name: str, settings: Settings) -> BackendStatus:
    """A backend's status where its jobs will run: on workers elsewhere as the executor sees them, or here."""
    return executor.backend_status(name) or backend_status(name, settings)


class LocalExecutor:
    """What every executor that makes music in this process answers about placement: nothing special."""

    def backend_status(self, name: str) -> BackendStatus | None:
        return None

    def has_room(self, backend: str) -> bool | None:
        return None


def _classify(exc: BaseException) -> tuple[str, str, dict[str, str]]:
    """(kind, message template, untrusted values) for an exception raised by a backend.

    Only our own words reach users: UserError and BackendUnavailable messages. Any other exception, a
    ValueError included, is a bug whose text is Python's; its message goes to the log with the traceback
    and users get an error id.
    """
    if isinstance(exc, Cancelled):
        return "cancelled", "cancelled", {}
    if isinstance(exc, UserError):
        return "user", exc.template, exc.values
    if isinstance(exc, BackendUnavailable):
        return "user", literal(str(exc)), {}
    return "internal", f"{type(exc).__name__}: {exc}", {}


def raise_for(kind: str, message: str, values: dict[str, str], details: str | None) -> None:
    if kind == "cancelled":
        raise Cancelled()
    raise JobFailed(message, user_facing=(kind == "user"), details=details, values=values)


# --- threads ---------------------------------------------------------------------------------------


class ThreadExecutor(LocalExecutor):
    """Runs jobs on worker threads of this process: light, shares loaded models (torch backends)."""

    def __init__(
        self,
        settings: Settings,
        *,
        workers: int | None = None,
        warm: tuple[str, ...] = (),
        name: str = "promptjam-job",
    ) -> None:
        self.settings = settings
        self.workers = workers or settings.workers
        self.warm = warm
        # The thread name tells the lanes apart in logs (and in tests).
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=name)
        self._cancel_flags: dict[str, threading.Event] = {}

    async def start(self) -> None:
        if self.warm:
            from services.jobs.work import warm_backends

            loop = asyncio.get_running_loop()
            loop.run_in_executor(self._pool, warm_backends, self.settings, list(self.warm), log.warning)

    async def close(self) -> None:
        for flag in self._cancel_flags.values():
            flag.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def run(self, job_id: str, request: MusicRequest, on_progress: OnProgress) -> MusicResult:
        from services.jobs.work import run_job

        loop = asyncio.get_running_loop()
        flag = self._cancel_flags.setdefault(job_id, threading.Event())

        def progress(stage: str, step: int, total: int) -> None:
            if flag.is_set():
                raise Cancelled()
            loop.call_soon_threadsafe(on_progress, stage, step, total)

        def work() -> MusicResult:
            if flag.is_set():
                raise Cancelled()
            try:
                return run_job(job_id, request, self.settings, progress)
            except Cancelled:
                raise
            except Exception as exc:
                kind, message, values = _classify(exc)
                raise_for(kind, message, values, traceback.format_exc())
                raise  # unreachable: _raise_for always raises

        try:
            return await loop.run_in_executor(self._pool, work)
        except asyncio.CancelledError:
            flag.set()  # the thread stops at its next progress report
            raise
        finally:
            self._cancel_flags.pop(job_id, None)

    def cancel(self, job_id: str) -> None:
        self._cancel_flags.setdefault(job_id, threading.Event()).set()


# --- processes -------------------------------------------------------------------------------------


def _worker_main(conn: Connection, settings: Settings, warm: tuple[str, ...], parent_pid: int) -> None:
    """Entry point of a worker process: warm up, then run jobs sent over the pipe until told to stop.

    It dies with its parent (services/jobs/lifeline.py) and logs through the same redacting setup."""
    from services.jobs.lifeline import die_with_parent, leave_signals_to_parent

    die_with_parent(parent_pid)
    leave_signals_to_parent()
    from services.logsetup import setup_logging_from

    setup_logging_from(settings)
    try:
        _serve_jobs(conn, settings, warm)
    except (BrokenPipeError, ConnectionResetError, EOFError):
        return  # the parent stopped listening (it is stopping, or replaced this worker): nothing to report


def _serve_jobs(conn: Connection, settings: Settings, warm: tuple[str, ...]) -> None:
    from services.jobs.work import run_job, warm_backends

    warm_backends(settings, list(warm), log.warning)
    conn.send(("ready",))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if msg[0] == "stop":
            return
        _, job_id, request_json = msg
        request = MusicRequest.from_json(request_json)

        def progress(stage: str, step: int, total: int, _job: str = job_id) -> None:
            conn.send(("progress", _job, stage, step, total))

        try:
            result = run_job(job_id, request, settings, progress)
        except BaseException as exc:  # report everything; the parent decides what users see
            kind, message, values = _classify(exc)
            conn.send(("error", job_id, kind, message, values, traceback.format_exc()))
            if isinstance(exc, KeyboardInterrupt):
                return
        else:
            conn.send(("done", job_id, result.to_json()))


class _WorkerSlot:
    """One worker process and its pipe, restarted when killed."""

    def __init__(self, index: int, settings: Settings, warm: tuple[str, ...]) -> None:
        self.index = index
        self.settings = settings
        self.warm = warm
        self.process: Any = None
        self.conn: Connection | None = None
        self.messages: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.current_job: str | None = None
        self.cancelled = False

    def spawn(self) -> None:
        """Start the worker. Call on the event loop's thread: the worker's death signal is tied to the
        thread that started it (see lifeline.py)."""
        ctx = multiprocessing.get_context("spawn")
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        self.process = ctx.Process(
            target=_worker_main,
            args=(child_conn, self.settings, self.warm, os.getpid()),
            name=f"promptjam-worker-{self.index}",
            daemon=True,
        )
        self.process.start()
        child_conn.close()
        self.conn = parent_conn
        self.messages = asyncio.Queue()
        asyncio.get_running_loop().add_reader(parent_conn.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        conn = self.conn
        if conn is None:
            return
        try:
            while conn.poll():
                self.messages.put_nowait(conn.recv())
        except (EOFError, OSError):
            self._detach()
            self.messages.put_nowait(("dead",))

    def _detach(self) -> None:
        if self.conn is not None:
            try:
                asyncio.get_running_loop().remove_reader(self.conn.fileno())
            except (ValueError, OSError):
                pass
            self.conn.close()
            self.conn = None

    @property
    def alive(self) -> bool:
        return self.conn is not None and self.process is not None and self.process.is_alive()

    def kill(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.kill()

    async def stop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.send(("stop",))
            except (OSError, BrokenPipeError):
                pass
        proc = self.process
        self._detach()
        if proc is not None:
            await asyncio.get_running_loop().run_in_executor(None, proc.join, 3.0)
            if proc.is_alive():
                proc.kill()
                await asyncio.get_running_loop().run_in_executor(None, proc.join, 3.0)
        self.process = None


class ProcessExecutor(LocalExecutor):
    """A fixed set of spawned worker processes; one job at a time each."""

    def __init__(self, settings: Settings, *, workers: int | None = None, warm: tuple[str, ...] = ()) -> None:
        self.settings = settings
        self.workers = workers or settings.workers
        self.warm = warm
        self._slots: list[_WorkerSlot] = []
        self._free: asyncio.Queue[_WorkerSlot] = asyncio.Queue()

    async def start(self) -> None:
        for i in range(self.workers):
            slot = _WorkerSlot(i, self.settings, self.warm)
            slot.spawn()
            self._slots.append(slot)
            self._free.put_nowait(slot)

    async def close(self) -> None:
        await asyncio.gather(*(slot.stop() for slot in self._slots), return_exceptions=True)
        self._slots.clear()

    async def run(self, job_id: str, request: MusicRequest, on_progress: OnProgress) -> MusicResult:
        slot = await self._free.get()
        try:
            if not slot.alive:
                await slot.stop()
                slot.spawn()
            slot.current_job = job_id
            slot.cancelled = False
            assert slot.conn is not None
            slot.conn.send(("run", job_id, request.to_json()))
            while True:
                msg = await slot.messages.get()
                kind = msg[0]
                if kind == "ready":
                    continue
                if kind == "progress" and msg[1] == job_id:
                    on_progress(msg[2], msg[3], msg[4])
                elif kind == "done" and msg[1] == job_id:
                    return MusicResult.from_json(msg[2])
                elif kind == "error" and msg[1] == job_id:
                    raise_for(msg[2], msg[3], msg[4], msg[5])
                elif kind == "dead":
                    if slot.cancelled:
                        raise Cancelled()
                    code = slot.process.exitcode if slot.process is not None else None
                    raise JobFailed(
                        "the worker making this piece stopped unexpectedly",
                        user_facing=False,
                        details=f"worker process exited with code {code}",
                    )
        except asyncio.CancelledError:
            slot.kill()  # timeout or shutdown: the worker may be mid-job, start afresh
            raise
        finally:
            slot.current_job = None
            if not slot.alive or slot.cancelled:
                slot.kill()
                await slot.stop()
            self._free.put_nowait(slot)

    def cancel(self, job_id: str) -> None:
        for slot in self._slots:
            if slot.current_job == job_id:
                slot.cancelled = True
                slot.kill()


class RoutingExecutor(LocalExecutor):
    """Sends each job to the executor of its lane, as its backend's record names it: model-lane backends to
    threads sharing one model, the rest to the CPU executor (worker processes by default)."""

    def __init__(self, cpu: Executor, model: Executor) -> None:
        self.cpu = cpu
        self.model = model
        self._where: dict[str, Executor] = {}

    async def start(self) -> None:
        await self.cpu.start()
        await self.model.start()

    async def close(self) -> None:
        await asyncio.gather(self.cpu.close(), self.model.close(), return_exceptions=True)

    async def run(self, job_id: str, request: MusicRequest, on_progress: OnProgress) -> MusicResult:
        executor = self.model if lane_of(request.backend) is Lane.MODEL else self.cpu
        self._where[job_id] = executor
        try:
            return await executor.run(job_id, request, on_progress)
        finally:
            self._where.pop(job_id, None)

    def cancel(self, job_id: str) -> None:
        executor = self._where.get(job_id)
        if executor is not None:
            executor.cancel(job_id)


def make_executor(settings: Settings, *, warm: tuple[str, ...] | None = None) -> Executor:
    """The executors the settings ask for: CPU-lane backends per WORKER_MODE, model-lane ones on threads;
    with REDIS_URL set, REMOTE_BACKENDS go to workers on other machines (services/workers/).

    `warm`: backends whose models CPU workers load at start; None: every enabled CPU-lane backend."""
    if settings.redis_url is None:
        return make_local_executor(settings, warm=warm)
    from services.workers.submit import RedisExecutor, remote_backends

    if warm is None:  # the bot loads no model whose jobs go to workers
        remote = remote_backends(settings)
        warm = tuple(r.name for r in enabled_records(settings) if r.lane is Lane.CPU and r.name not in remote)
    return RedisExecutor(settings, local=make_local_executor(settings, warm=warm))


def make_local_executor(
    settings: Settings, *, warm: tuple[str, ...] | None = None, model_warm: tuple[str, ...] = ()
) -> Executor:
    """Executors making music in this process's workers (the bot's own, or a `promptjam worker`'s).

    `model_warm`: model-lane backends loaded at start (a worker owns its models from the first job)."""
    enabled = enabled_records(settings)
    if warm is None:
        warm = tuple(r.name for r in enabled if r.lane is Lane.CPU)
    cpu: Executor
    if settings.worker_mode == "thread":
        cpu = ThreadExecutor(settings, warm=warm)
    else:
        cpu = ProcessExecutor(settings, warm=warm)
    if not any(r.lane is Lane.MODEL for r in enabled):
        return cpu
    model = ThreadExecutor(settings, workers=settings.model_workers, warm=model_warm, name="promptjam-model")
    return RoutingExecutor(cpu, model)
