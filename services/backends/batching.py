"""Gather concurrent, compatible requests from worker threads into one pipeline call.

Why: a GPU runs a batch of four riffusion images or four songs in far less than four times one's time,
and model-lane jobs arrive from several worker threads that share one model (riffusion and song use it).
Each caller blocks in `submit`; the first caller of a group becomes its leader, waits up to `max_wait_s`
for more compatible jobs (or until `max_batch` are there), takes them out of the queue and runs them in
its own thread. Jobs arriving while a batch runs form the next one. No extra thread is needed, and
nothing is left behind when callers stop.

Progress of a running batch is fanned out to every member's callback. When a member's callback raises
`Cancelled`, only that member is dropped (it gets Cancelled, the rest still get their images); the batch
stops early only when every member has been cancelled.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from services.backends.base import Cancelled

J = TypeVar("J")
R = TypeVar("R")

StepFn = Callable[[int, int], None]  # (step done, total steps); may raise to stop the run

RunFn = Callable[[Sequence[J], StepFn], Sequence[R]]


@dataclass(eq=False)
class _Ticket(Generic[J, R]):
    """One submitted job on its way through the queue."""

    job: J  # what to run
    key: Hashable  # jobs with equal keys may share a call
    on_step: StepFn | None  # the submitter's progress callback (called from the leader's thread)
    enqueued: float  # monotonic time it was queued, which starts its group's wait
    done: bool = False  # result or error is set
    result: R | None = None  # the job's output once done without error
    error: BaseException | None = field(default=None)  # what the submitter will raise


class Batcher(Generic[J, R]):
    """Runs jobs through `run(jobs, on_step)` in batches of equal `key(job)`, at most `max_batch` at once."""

    def __init__(
        self,
        run: RunFn[J, R],
        key: Callable[[J], Hashable],
        *,
        max_batch: int = 4,
        max_wait_s: float = 0.05,
    ) -> None:
        if max_batch < 1 or max_wait_s < 0:
            raise ValueError("max_batch must be at least 1 and max_wait_s not negative")
        self._run = run
        self._key = key
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._cond = threading.Condition()
        self._pending: dict[Hashable, list[_Ticket[J, R]]] = {}
        self._leading: set[Hashable] = set()
        self.batches_run = 0  # calls made to `run`, for benches and tests

    def submit(self, job: J, on_step: StepFn | None = None) -> R:
        """Blocking: the result of `job`, computed alone or with other callers' compatible jobs."""
        return self.submit_many([job], on_step)[0]

    def submit_many(self, jobs: Sequence[J], on_step: StepFn | None = None) -> list[R]:
        """Blocking: results of several jobs from one caller, which may be batched together and with others.

        `on_step(k, n)` reports each batch this caller's jobs run in; raising Cancelled drops them all."""
        now = time.monotonic()
        step = _OnceCancelled(on_step) if on_step is not None else None
        tickets: list[_Ticket[J, R]] = [_Ticket(job, self._key(job), step, now) for job in jobs]
        with self._cond:
            for ticket in tickets:
                self._pending.setdefault(ticket.key, []).append(ticket)
            self._cond.notify_all()
        self._serve(tickets)
        results: list[R] = []
        for ticket in tickets:
            if ticket.error is not None:
                raise ticket.error
            results.append(ticket.result)  # type: ignore[arg-type]
        return results

    def _serve(self, mine: list[_Ticket[J, R]]) -> None:
        """Until all of `mine` are done: lead a group holding one of them, or wait for others to."""
        while True:
            with self._cond:
                if all(t.done for t in mine):
                    return
                key = self._leaderless_key(mine)
                if key is None:
                    self._cond.wait()
                    continue
                self._leading.add(key)
                try:
                    batch = self._collect(key)
                finally:
                    self._leading.discard(key)
                    self._cond.notify_all()
            self._execute(batch)

    def _leaderless_key(self, mine: list[_Ticket[J, R]]) -> Hashable | None:
        for ticket in mine:
            if ticket.done or ticket.key in self._leading:
                continue
            if ticket in self._pending.get(ticket.key, ()):
                return ticket.key
        return None

    def _collect(self, key: Hashable) -> list[_Ticket[J, R]]:
        """Wait (lock held, released while waiting) until the group is full or its oldest job waited long
        enough, then take up to `max_batch` jobs out of the queue."""
        queue = self._pending[key]
        deadline = queue[0].enqueued + self.max_wait_s
        while len(queue) < self.max_batch:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._cond.wait(remaining)
        batch, rest = queue[: self.max_batch], queue[self.max_batch :]
        if rest:
            self._pending[key] = rest
        else:
            del self._pending[key]
        return batch

    def _execute(self, batch: list[_Ticket[J, R]]) -> None:
        """Run one batch in this thread and hand every member its result or error."""
        live = list(batch)

        def fan_out(step: int, total: int) -> None:
            outcome: dict[int, Exception | None] = {}  # per callback: one caller's jobs report once a step
            for ticket in list(live):
                callback = ticket.on_step
                if callback is None:
                    continue
                if id(callback) not in outcome:
                    try:
                        callback(step, total)
                        outcome[id(callback)] = None
                    except Exception as exc:  # Cancelled, or a broken callback: drop only its jobs
                        outcome[id(callback)] = exc
                error = outcome[id(callback)]
                if error is not None:
                    ticket.error = error
                    live.remove(ticket)
            if not live:
                raise Cancelled("every job in this batch was cancelled")

        try:
            self.batches_run += 1
            outputs = self._run([t.job for t in batch], fan_out)
            if len(outputs) != len(batch):
                raise RuntimeError(f"batch of {len(batch)} returned {len(outputs)} results")
            for ticket, output in zip(batch, outputs, strict=True):
                if ticket.error is None:
                    ticket.result = output
        except BaseException as exc:
            for ticket in batch:
                if ticket.error is None:
                    ticket.error = exc
            if not isinstance(exc, Exception):
                raise
        finally:
            with self._cond:
                for ticket in batch:
                    ticket.done = True
                self._cond.notify_all()


class _OnceCancelled:
    """A caller's step callback shared by its tickets: once it raised, it raises again at once for the
    caller's other jobs (one cancellation drops all of them) without calling the caller again."""

    def __init__(self, on_step: StepFn) -> None:
        self._on_step = on_step
        self._error: Exception | None = None
        self._lock = threading.Lock()

    def __call__(self, step: int, total: int) -> None:
        with self._lock:
            if self._error is not None:
                raise self._error
            try:
                self._on_step(step, total)
            except Exception as exc:
                self._error = exc
                raise


class Gathering(Generic[J, R]):
    """Several callers' jobs submitted to a Batcher as one: each of `parties` threads calls submit_many, the
    last to arrive submits everyone's jobs together and each gets its own results back.

    Why: takes of one request (services/jobs/kinds/text.best_of) prepare at different speeds (a beat to
    render, a prompt to read) and would miss each other's batch; gathered, they are one pipeline call.
    """

    def __init__(self, batcher: Batcher[J, R], parties: int) -> None:
        self._batcher = batcher
        self._parties = parties
        self._cond = threading.Condition()
        self._jobs: list[tuple[int, Sequence[J], StepFn | None]] = []
        self._results: list[list[R]] | None = None
        self._error: BaseException | None = None

    def submit_many(self, jobs: Sequence[J], on_step: StepFn | None = None) -> list[R]:
        with self._cond:
            index = len(self._jobs)
            self._jobs.append((index, list(jobs), on_step))
            last = len(self._jobs) == self._parties
            if not last:
                while self._results is None and self._error is None:
                    self._cond.wait()
        if last:
            self._run_all()
        if self._error is not None:
            raise self._error
        assert self._results is not None
        return self._results[index]

    def _run_all(self) -> None:
        every = [job for _, jobs, _ in self._jobs for job in jobs]
        steps = [step for _, _, step in self._jobs if step is not None]
        on_step = steps[0] if steps else None  # the first take reports progress for all
        try:
            flat = self._batcher.submit_many(every, on_step)
            out, start = [], 0
            for _, jobs, _ in self._jobs:
                out.append(flat[start : start + len(jobs)])
                start += len(jobs)
            results: list[list[R]] | None = out
        except BaseException as exc:  # every party gets the failure (a cancel included)
            results = None
            with self._cond:
                self._error = exc
                self._cond.notify_all()
            raise
        with self._cond:
            self._results = results
            self._cond.notify_all()
