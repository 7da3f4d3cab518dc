"""Workers on other machines (services/workers/): scaling, overhead, recovery and batching, in one run.

Run: .venv/bin/python bench/workers.py [--quick] [--only scaling,reclaim,riffusion]
(prints figures and a table; asserts nothing; about 2.5 minutes in all, 1.5 with --quick, on 2 cores)

Everything is real: a redis-server on loopback, `promptjam worker` processes started as
`python -m bot.cli worker ...` (each its own OS process and DATA_DIR), and the bot's own Engine with REDIS_URL
set, submitting through `engine.submit` and waiting with `engine.jobs.wait`, exactly as cogs do. Workers run
WORKER_MODE=thread (one job at a time in the worker process itself), the same as the in-process baseline;
styles workers get OMP_NUM_THREADS=1 (its embedding model would otherwise spread over every core, and N
workers would fight over them): one core per worker, as deployments size them.

1. Scaling (pieces/s with 1 and 2 workers, `styles`, --concurrency 1 each). Why: the point of workers is to
   add machines (or cores) and get proportionally more pieces out; a ratio well under 2x would mean the bot,
   Redis or the hand-over (`has_room`, the event stream) serialises the work. Goal >= 1.8x. On a machine
   with only two cores the bot process and Redis compete with the two workers, so this is a lower bound
   (the bot's CPU per piece is printed to show its share). Each count runs 2 batches (1 with --quick);
   the best counts, since a shared machine's other load only ever slows a batch down.
2. Bot-side overhead per job. Why: every job pays it, and short pieces must not feel slower because they
   travel. Method: sequential tiny `styles` jobs (1 s), each timed from `engine.submit` until
   `engine.jobs.wait` returns; minus the piece's own `MusicResult.render_seconds` (measured inside the
   worker, around the render and MP3 encoding). The same for an Engine with worker_mode="thread" and no
   REDIS_URL. What is left is queueing, dispatch, (for workers) the Redis send, the worker's pick-up, the
   outcome and its files packed into Redis, the final event and the bot's copy of the files. Both sides
   are warmed up first; the median is reported. Goal: workers add < 20 ms per job.
3. Time from a worker's death to another worker taking its job over. Why: a killed or lost worker must not
   lose a user's piece, and the user should not wait much longer than WORKER_CLAIM_TIMEOUT_S for it. Method:
   two workers with WORKER_CLAIM_TIMEOUT_S=5, one long piece; the worker holding it (XPENDING on the job
   stream names the consumer, its announcement gives the pid) is SIGKILLed just after its "started" event;
   the figure is the Redis time of the job's next "started" event minus the moment of the kill. Goal: under
   the claim timeout + 5 s. The job must then finish.
4. Riffusion (tiny random-weight model, CPU) through one worker with --concurrency 4, RIFFUSION_BATCH_SIZE=1
   vs 4 (at the default RIFFUSION_BATCH_WAIT_MS=50 and at 500). Why: a model worker earns its GPU by batching
   jobs of many users into one pipeline call; this shows whether jobs that crossed the Redis hop together
   meet in one call. Besides pieces/s it counts pipeline calls and times the denoising alone, from the
   workers' progress events (jobs of one call report their last denoising step at the same moment). On CPU
   with a tiny model denoising is a small part of a piece (the spectrogram-to-audio codec and the MP3 are
   most of it), so pieces/s gains little; on a GPU with the real model denoising dominates
   (bench/riffusion_pipeline.py measures that pipeline alone).

Every process this starts (redis-server, workers) is stopped on exit, on error and on SIGTERM/Ctrl+C; the
workers also get SIGKILL if this process dies (Linux parent-death signal).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.figures import Row, table  # noqa: E402
from services.engine import Engine, RequestOptions  # noqa: E402
from services.jobs.models import JobRecord, JobState  # noqa: E402
from services.settings import Settings  # noqa: E402
from services.workers.announce import WorkerInfo, live_workers  # noqa: E402
from services.workers.connection import connect  # noqa: E402
from services.workers.keys import CONSUMER_GROUP, RedisKeys  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402
from tests.workers_harness import WorkerProcess  # noqa: E402

PROMPTS = ["upbeat chiptune", "rainy lo-fi piano", "jazz trio", "dark techno", "bossa nova", "sad cello"]
USER = 1  # one user queues everything: the per-user limits are raised for it
CLAIM_TIMEOUT_S = 5.0
SEE_TIMEOUT_S = 90.0  # a fresh worker process imports, warms up and announces itself within this
JOB_TIMEOUT_S = 300.0
# One core per styles worker (its embedding model would take every core otherwise): N workers, N cores.
ONE_CORE = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Sizes:
    throughput_jobs: int
    throughput_duration_s: float
    throughput_rounds: int  # batches per worker count; the best one counts (others' load on a shared box)
    overhead_jobs: int
    overhead_duration_s: float
    slow_duration_s: float
    riffusion_jobs: int
    riffusion_steps: int


FULL = Sizes(12, 6, 2, 15, 1, 120, 8, 4)
QUICK = Sizes(6, 4, 1, 6, 1, 120, 4, 4)


# --- processes -----------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when this bench dies (PR_SET_PDEATHSIG): no worker outlives it."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


@dataclass
class Processes:
    """Every process the bench started, stopped by `close` whatever happened."""

    redis: RedisServer
    workers: list[WorkerProcess] = field(default_factory=list)

    def start_worker(
        self, data_dir: Path, prefix: str, backends: str, concurrency: int, env: dict[str, str] | None = None
    ) -> WorkerProcess:
        data_dir.mkdir(parents=True, exist_ok=True)
        environment = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "REDIS_URL": self.redis.url,
            "REDIS_PREFIX": prefix,
            "DATA_DIR": str(data_dir),
            "WORKER_MODE": "thread",
            "LOG_LEVEL": "INFO",
            **(env or {}),
        }
        log_path = data_dir / "worker.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bot.cli",
                    "worker",
                    "--backends",
                    backends,
                    "--concurrency",
                    str(concurrency),
                ],
                cwd=data_dir,  # no .env of the checkout is read: the environment above is all it gets
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        worker = WorkerProcess(process, log_path)
        self.workers.append(worker)
        return worker

    def stop_workers(self, workers: list[WorkerProcess]) -> None:
        for worker in workers:
            with contextlib.suppress(Exception):
                worker.process.terminate()
        for worker in workers:
            with contextlib.suppress(Exception):
                worker.stop()

    def close(self) -> None:
        self.stop_workers(self.workers)
        with contextlib.suppress(Exception):
            self.redis.stop()


@contextlib.contextmanager
def fleet(
    procs: Processes,
    root: Path,
    prefix: str,
    count: int,
    backends: str,
    concurrency: int = 1,
    env: dict[str, str] | None = None,
) -> Iterator[list[WorkerProcess]]:
    """`count` workers for one figure, stopped when it is measured (the next figure gets the cores)."""
    workers = [
        procs.start_worker(root / f"{prefix}-worker{i + 1}", prefix, backends, concurrency, env)
        for i in range(count)
    ]
    try:
        yield workers
    finally:
        procs.stop_workers(workers)


# --- the bot's side --------------------------------------------------------------------------------


def bot_settings(data_dir: Path, redis_url: str | None, prefix: str, remote: tuple[str, ...]) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "worker_mode": "thread",
        "per_user_concurrent_jobs": 50,
        "per_user_queued_jobs": 500,
        "queue_size": 1000,
        "user_jobs_per_minute": 1000,
        "max_duration_s": 600,
        "job_timeout_s": int(JOB_TIMEOUT_S),
        "worker_claim_timeout_s": CLAIM_TIMEOUT_S,
        "redis_prefix": prefix,
    }
    if redis_url is not None:
        values |= {"redis_url": redis_url, "remote_backends": remote}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def redis_client(url: str) -> AsyncIterator[Any]:
    client = connect(url)
    try:
        yield client
    finally:
        await client.aclose()


async def sees_workers(
    engine: Engine, url: str, prefix: str, backend: str, workers: list[WorkerProcess]
) -> None:
    """Until the engine reports `backend` ready on every one of `workers` (they announced themselves)."""
    deadline = time.monotonic() + SEE_TIMEOUT_S
    want = f"ready on {len(workers)} worker"
    status = engine.backend_status(backend)
    async with redis_client(url) as redis:
        while time.monotonic() < deadline:
            for worker in workers:
                worker.check_alive()
            live = await live_workers(redis, RedisKeys(prefix))
            status = engine.backend_status(backend)
            if len(live) >= len(workers) and status.available and status.reason.startswith(want):
                return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the engine never saw {len(workers)} worker(s) for {backend}: {status.reason}")


async def make(engine: Engine, job_id: str, backend: str, duration_s: float, seed: int) -> None:
    request = engine.build_request(
        RequestOptions(PROMPTS[seed % len(PROMPTS)], backend=backend, duration_s=duration_s, seed=seed),
        user_id=USER,
    )
    await engine.submit(job_id, request)


async def finished(engine: Engine, job_id: str, timeout: float = JOB_TIMEOUT_S) -> JobRecord:
    record = await asyncio.wait_for(engine.jobs.wait(job_id), timeout)
    if record.state is not JobState.DONE:
        raise RuntimeError(f"job {job_id} ended {record.state.value}: {record.error_text()}")
    return record


async def batch(engine: Engine, ids: list[str], backend: str, duration_s: float) -> list[JobRecord]:
    for seed, job_id in enumerate(ids):
        await make(engine, job_id, backend, duration_s, seed)
    return list(await asyncio.gather(*(finished(engine, i) for i in ids)))


async def warm_up(engine: Engine, workers: list[WorkerProcess], backend: str, duration_s: float) -> None:
    """Until every worker has made a piece: models loaded, first-call costs paid."""
    rounds = 0
    while any(w.log().count(" done in ") == 0 for w in workers):
        rounds += 1
        if rounds > 10:
            raise RuntimeError("warming up: some worker never got a job")
        ids = [f"warm{rounds}-{i}" for i in range(len(workers))]
        await batch(engine, ids, backend, duration_s)


async def timed(
    engine: Engine, prefix: str, jobs: int, backend: str, duration_s: float
) -> tuple[float, float]:
    """Pieces per second for `jobs` pieces queued at once, and the bot's CPU seconds per piece."""
    ids = [f"{prefix}-{i}" for i in range(jobs)]
    cpu, started = time.process_time(), time.perf_counter()
    await batch(engine, ids, backend, duration_s)
    return jobs / (time.perf_counter() - started), (time.process_time() - cpu) / jobs


async def overheads(engine: Engine, prefix: str, jobs: int, duration_s: float) -> list[float]:
    """Seconds per job beyond its own render, one tiny job at a time."""
    spent = []
    for i in range(jobs):
        job_id = f"{prefix}-tiny{i}"
        started = time.perf_counter()
        await make(engine, job_id, "styles", duration_s, 100 + i)
        record = await finished(engine, job_id)
        assert record.result is not None
        spent.append(time.perf_counter() - started - record.result.render_seconds)
    return spent


def say(text: str) -> None:
    print(text, flush=True)


# --- the figures -------------------------------------------------------------------------------------


async def scaling_and_overhead(procs: Processes, root: Path, sizes: Sizes) -> list[Row]:
    rates: dict[int, float] = {}
    remote: list[float] = []
    for count in (1, 2):
        prefix = f"scale{count}"
        with fleet(procs, root, prefix, count, "styles", env=ONE_CORE) as workers:
            settings = bot_settings(root / f"{prefix}-bot", procs.redis.url, prefix, ("styles",))
            async with Engine(settings) as engine:
                await sees_workers(engine, procs.redis.url, prefix, "styles", workers)
                await warm_up(engine, workers, "styles", sizes.throughput_duration_s)
                for round_ in range(1, sizes.throughput_rounds + 1):
                    before = [w.log().count(" done in ") for w in workers]
                    rate, cpu = await timed(
                        engine,
                        f"{prefix}-r{round_}",
                        sizes.throughput_jobs,
                        "styles",
                        sizes.throughput_duration_s,
                    )
                    rates[count] = max(rates.get(count, 0.0), rate)
                    split = "/".join(
                        str(w.log().count(" done in ") - b) for w, b in zip(workers, before, strict=True)
                    )
                    say(
                        f"  {count} worker(s), round {round_}: {rate:.2f} pieces/s ({split} per worker; "
                        f"bot CPU {cpu * 1000:.0f} ms per piece)"
                    )
                if count == 1:
                    remote = await overheads(engine, prefix, sizes.overhead_jobs, sizes.overhead_duration_s)
    ratio = rates[2] / rates[1]
    say(f"  scaling 1 -> 2 workers: {ratio:.2f}x")

    settings = bot_settings(root / "inproc-bot", None, "inproc", ())
    async with Engine(settings) as engine:
        await batch(engine, ["warm-a", "warm-b"], "styles", sizes.overhead_duration_s)
        local = await overheads(engine, "inproc", sizes.overhead_jobs, sizes.overhead_duration_s)
    remote_ms = statistics.median(remote) * 1000
    local_ms = statistics.median(local) * 1000
    added = remote_ms - local_ms
    say(
        f"  overhead per job (median of {len(remote)}): workers {remote_ms:.1f} ms "
        f"(min {min(remote) * 1000:.1f}, max {max(remote) * 1000:.1f}), in-process {local_ms:.1f} ms "
        f"(min {min(local) * 1000:.1f}, max {max(local) * 1000:.1f}); added {added:.1f} ms"
    )
    jobs = f"{sizes.throughput_jobs} x {sizes.throughput_duration_s:g} s, best of {sizes.throughput_rounds}"
    return [
        Row(f"1 worker, pieces/s ({jobs})", f"{rates[1]:.2f}", "", None),
        Row(f"2 workers, pieces/s ({jobs})", f"{rates[2]:.2f}", "", None),
        Row("scaling 1 -> 2 workers", f"{ratio:.2f}x", ">= 1.8x", ratio >= 1.8),
        Row("overhead per job, workers (median)", f"{remote_ms:.1f} ms", "", None),
        Row("overhead per job, in-process (median)", f"{local_ms:.1f} ms", "", None),
        Row("overhead added by workers", f"{added:.1f} ms", "< 20 ms", added < 20),
    ]


async def _next_event(
    redis: Any, stream: str, cursor: bytes, wanted: Callable[[dict[bytes, bytes]], bool], timeout: float
) -> tuple[bytes, float]:
    """The first event after `cursor` that `wanted` accepts: its id and its Redis time (s since epoch)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = await redis.xread({stream: cursor}, block=500, count=100)
        for _stream, entries in replies or []:
            for entry_id, fields in entries:
                cursor = entry_id
                if wanted(fields):
                    return entry_id, int(entry_id.split(b"-")[0]) / 1000
    raise RuntimeError(f"no such event on {stream} within {timeout:.0f} s")


async def reclaim(procs: Processes, root: Path, sizes: Sizes) -> list[Row]:
    prefix = "reclaim"
    keys = RedisKeys(prefix)
    env = {**ONE_CORE, "WORKER_CLAIM_TIMEOUT_S": f"{CLAIM_TIMEOUT_S:g}"}
    job_id = "slow"
    with fleet(procs, root, prefix, 2, "styles", env=env) as workers:
        settings = bot_settings(root / f"{prefix}-bot", procs.redis.url, prefix, ("styles",))
        async with Engine(settings) as engine, redis_client(procs.redis.url) as redis:
            await sees_workers(engine, procs.redis.url, prefix, "styles", workers)
            await warm_up(engine, workers, "styles", 1)
            newest = await redis.xrevrange(keys.events, count=1)
            cursor = newest[0][0] if newest else b"0-0"

            def started(fields: dict[bytes, bytes]) -> bool:
                return fields.get(b"job") == job_id.encode() and fields.get(b"kind") == b"started"

            await make(engine, job_id, "styles", sizes.slow_duration_s, 7)
            cursor, _ = await _next_event(redis, keys.events, cursor, started, 60)
            pending = await redis.xpending_range(keys.jobs("styles"), CONSUMER_GROUP, "-", "+", 10)
            holders = {entry["consumer"].decode() for entry in pending}
            if len(holders) != 1:
                raise RuntimeError(f"expected one worker holding the job, XPENDING says {pending}")
            holder = holders.pop()
            raw = await redis.get(keys.worker(holder))
            pid = WorkerInfo.from_json(raw).pid if raw is not None else 0
            victim = next((w for w in workers if w.pid == pid or f"worker {holder} " in w.log()), None)
            if victim is None:
                raise RuntimeError(f"no worker process is {holder} (pid {pid})")
            victim.kill()
            killed_at = time.time()
            say(f"  killed {victim.name} ({holder}, pid {victim.pid}) holding job {job_id!r}")
            _, again_at = await _next_event(redis, keys.events, cursor, started, CLAIM_TIMEOUT_S + 60)
            taken = again_at - killed_at
            other = next(w for w in workers if w is not victim)
            took_over = "taking over job message" in other.log()
            record = await finished(engine, job_id)
            assert record.result is not None
            say(
                f"  started again {taken:.2f} s after the kill (claim timeout {CLAIM_TIMEOUT_S:g} s); "
                f"{other.name} logged the takeover: {took_over}; the job then finished "
                f"({record.result.render_seconds:.1f} s render of a {sizes.slow_duration_s:g} s piece)"
            )
    goal = CLAIM_TIMEOUT_S + 5
    return [
        Row(
            f"kill -> job started on another worker (claim {CLAIM_TIMEOUT_S:g} s)",
            f"{taken:.2f} s",
            f"< {goal:g} s",
            taken < goal and took_over,
        )
    ]


@dataclass(frozen=True)
class Denoising:
    calls: int  # pipeline calls, counted as groups of jobs whose last denoising step came at the same moment
    busy_s: float  # wall time during which some job was denoising


def denoising(events: list[tuple[bytes, dict[bytes, bytes]]], ids: set[str]) -> Denoising:
    """From the workers' progress events (Redis times): how the jobs' denoising was grouped and how long."""
    spans: dict[str, list[float]] = {}
    for entry_id, fields in events:
        job = fields.get(b"job", b"").decode()
        if job in ids and fields.get(b"stage") == b"denoising":
            spans.setdefault(job, []).append(int(entry_id.split(b"-")[0]) / 1000)
    ends = sorted(max(times) for times in spans.values())
    calls = sum(1 for i, end in enumerate(ends) if i == 0 or end - ends[i - 1] > 0.05)
    busy, until = 0.0, 0.0
    for start, end in sorted((min(times), max(times)) for times in spans.values()):
        if end > until:
            busy += end - max(start, until)
            until = end
    return Denoising(calls, busy)


async def riffusion(procs: Processes, root: Path, sizes: Sizes) -> list[Row]:
    from tests.tiny_models import build_tiny_model

    model = await asyncio.to_thread(build_tiny_model, root / "tiny-riffusion")
    jobs = sizes.riffusion_jobs
    # (RIFFUSION_BATCH_SIZE, RIFFUSION_BATCH_WAIT_MS): 50 ms is the default wait; 500 ms lets jobs that
    # start together but reach the pipeline apart (their prompt and seed stages share the cores) meet there.
    configs = [(1, 50), (4, 50), (4, 500)]
    rates: dict[tuple[int, int], float] = {}
    grouped: dict[tuple[int, int], Denoising] = {}
    for size, wait_ms in configs:
        prefix = f"riff{size}-{wait_ms}"
        env = {
            "RIFFUSION_MODEL": str(model),
            "DEVICE": "cpu",
            "RIFFUSION_STEPS": str(sizes.riffusion_steps),
            "RIFFUSION_BATCH_SIZE": str(size),
            "RIFFUSION_BATCH_WAIT_MS": str(wait_ms),
        }
        with fleet(procs, root, prefix, 1, "riffusion", concurrency=4, env=env) as workers:
            settings = bot_settings(root / f"{prefix}-bot", procs.redis.url, prefix, ("riffusion",))
            async with Engine(settings) as engine, redis_client(procs.redis.url) as redis:
                await sees_workers(engine, procs.redis.url, prefix, "riffusion", workers)
                await warm_up(engine, workers, "riffusion", 5)
                events = RedisKeys(prefix).events
                newest = await redis.xrevrange(events, count=1)
                rate, _ = await timed(engine, prefix, jobs, "riffusion", 5)
                after = await redis.xrange(events, min=b"(" + newest[0][0] if newest else "-")
                seen = denoising(after, {f"{prefix}-{i}" for i in range(jobs)})
                rates[size, wait_ms], grouped[size, wait_ms] = rate, seen
                say(
                    f"  batch {size}, wait {wait_ms} ms: {rate:.2f} pieces/s; {seen.calls} pipeline call(s) "
                    f"for {jobs} jobs; denoising {seen.busy_s / jobs:.2f} s of {1 / rate:.2f} s per piece"
                )
    base = (1, 50)
    what = f"{jobs} x 5 s, {sizes.riffusion_steps} steps"
    rows = [Row(f"riffusion tiny, batch 1, pieces/s ({what})", f"{rates[base]:.2f}", "", None)]
    fewest = -(-jobs // 4)
    for key in configs[1:]:
        size, wait_ms = key
        ratio = rates[key] / rates[base]
        gain = grouped[base].busy_s / grouped[key].busy_s if grouped[key].busy_s else float("nan")
        say(f"  batch {size} (wait {wait_ms} ms) vs 1: {ratio:.2f}x pieces/s, {gain:.2f}x on the denoising")
        rows += [
            Row(f"riffusion batch {size}, wait {wait_ms} ms, pieces/s", f"{rates[key]:.2f}", "", None),
            Row("  vs batch 1, pieces/s", f"{ratio:.2f}x", "", None),
            Row("  vs batch 1, denoising time", f"{gain:.2f}x", "", None),
            Row(
                f"  pipeline calls for {jobs} jobs",
                str(grouped[key].calls),
                f"{fewest} (batch 1: {grouped[base].calls})",
                grouped[key].calls <= fewest,
            ),
        ]
    return rows


Figure = Callable[[Processes, Path, Sizes], Awaitable[list[Row]]]
FIGURES: dict[str, tuple[str, Figure]] = {
    "scaling": ("scaling (styles, 1 and 2 workers) and per-job overhead", scaling_and_overhead),
    "reclaim": ("reclaim after SIGKILL", reclaim),
    "riffusion": ("riffusion tiny model, batch 1 vs 4", riffusion),
}


async def run(procs: Processes, root: Path, sizes: Sizes, only: list[str]) -> None:
    rows: list[Row] = []
    steps = [FIGURES[name] for name in only]
    for number, (title, step) in enumerate(steps, 1):
        started = time.monotonic()
        say(f"[{number}/{len(steps)}] {title}")
        try:
            rows += await step(procs, root, sizes)
        except Exception as exc:  # one figure failing still prints the others
            say(f"  FAILED: {type(exc).__name__}: {exc}")
            rows.append(Row(title, "failed", "", False))
        say(f"  ({time.monotonic() - started:.0f} s)")
    say("")
    say(table(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter jobs (about half the time)")
    parser.add_argument(
        "--only", default=",".join(FIGURES), help=f"comma-separated figures to run, of {', '.join(FIGURES)}"
    )
    args = parser.parse_args()
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in only if name not in FIGURES]
    if unknown:
        parser.error(f"unknown figure(s) {', '.join(unknown)}; choose from {', '.join(FIGURES)}")
    sizes = QUICK if args.quick else FULL
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def terminated(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        root = Path(tmp)
        procs = Processes(RedisServer(root / "redis"))
        try:
            procs.redis.start()
            mode = "quick" if args.quick else "full"
            say(f"redis-server on {procs.redis.url}; {os.cpu_count()} CPU(s); {mode} run")
            asyncio.run(run(procs, root, sizes, only))
        finally:
            procs.close()
    say(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
