"""Bot under load: 50 simulated users send 200 /music create commands through the fake Discord.

Prints defer latency p50/p99, time to MP3 p50/p99, the longest gap between gateway heartbeats while
generating, and peak RSS (bot process + workers). Targets (issue #2): defer p99 < 150 ms, no heartbeat
gap over 1 s. Run: .venv/bin/python bench/bot_load.py [--users 50] [--commands 200] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.jobs.executors import ProcessExecutor  # noqa: E402
from tests.conftest import make_settings, running_bot  # noqa: E402
from tests.fakediscord import FakeDiscord, StoredMessage  # noqa: E402

PROMPTS = [
    "rainy lo-fi piano",
    "upbeat chiptune",
    "ambient drone, no drums",
    "jazz trio",
    "dark techno",
    "folk song in A major",
    "sad cello",
    "happy reggae",
    "epic orchestral",
    "bossa nova",
]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


class RssSampler:
    """Samples the RSS of this process and its children every 100 ms in a thread."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = me.memory_info().rss
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.1)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def run(users: int, commands: int, workers: int, duration: int) -> None:
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp, RssSampler() as rss:
        async with FakeDiscord(heartbeat_interval=0.25) as fd:
            with fd.patch_discord_py():
                guild = fd.add_guild("load")
                channel = fd.add_text_channel(guild, "music")
                people = [fd.add_user(f"user{i}") for i in range(users)]
                settings = make_settings(
                    Path(tmp) / "data",
                    discord_guild_id=guild.id,
                    worker_mode="process",
                    workers=workers,
                    queue_size=commands + 10,
                    per_user_queued_jobs=commands,
                    per_user_concurrent_jobs=1,
                    user_jobs_per_minute=1000,
                    progress_interval_s=1.5,
                )
                async with running_bot(fd, settings, executor=ProcessExecutor(settings, warm=("styles",))):
                    await asyncio.sleep(3.0)  # let workers warm up
                    since = time.monotonic()
                    per_user = [commands // users + (1 if i < commands % users else 0) for i in range(users)]
                    sends = [
                        (rng.uniform(0, 20.0), people[i]) for i, n in enumerate(per_user) for _ in range(n)
                    ]
                    sends.sort(key=lambda s: s[0])

                    async def one(delay: float, user: object) -> tuple[float, float]:
                        await asyncio.sleep(delay)
                        inter = await fd.slash_command(
                            user,
                            channel,
                            "music create",  # type: ignore[arg-type]
                            {"prompt": rng.choice(PROMPTS), "duration": duration},
                        )
                        cb = await inter.wait_response(timeout=30)

                        def done(m: StoredMessage) -> bool:
                            return any(a.filename.endswith(".mp3") for a in m.attachments)

                        final = await inter.wait_original_edit(timeout=3600, predicate=done)
                        produced = next(
                            r.at
                            for r in final.history
                            if any(a.filename.endswith(".mp3") for a in r.attachments)
                        )
                        return cb.latency, produced - inter.dispatched_at

                    started = time.monotonic()
                    results = await asyncio.gather(*(one(d, u) for d, u in sends))
                    wall = time.monotonic() - started
                    gap = fd.max_heartbeat_gap(since=since)
    defers = [r[0] * 1000 for r in results]
    to_mp3 = [r[1] for r in results]
    print(f"{len(results)} commands from {users} users, {workers} worker process(es), {duration} s pieces")
    print(
        f"defer latency: p50 {_pct(defers, 50):.1f} ms, p99 {_pct(defers, 99):.1f} ms, "
        f"max {max(defers):.1f} ms (target p99 < 150 ms)"
    )
    print(
        f"time to MP3:   p50 {_pct(to_mp3, 50):.1f} s, p99 {_pct(to_mp3, 99):.1f} s, "
        f"mean {statistics.mean(to_mp3):.1f} s"
    )
    print(f"throughput: {len(results) / wall:.2f} pieces/s over {wall:.0f} s")
    print(f"longest gap between heartbeats while generating: {gap:.2f} s (interval 0.25 s; target < 1 s)")
    print(f"peak RSS (bot + fake + workers): {rss.peak / 2**20:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--duration", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(run(args.users, args.commands, args.workers, args.duration))


if __name__ == "__main__":
    main()
