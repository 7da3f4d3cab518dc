"""Which workers are alive and what they serve: a key per worker that expires unless renewed.

A worker renews its announcement every ANNOUNCE_EVERY_S; a killed one disappears within ANNOUNCE_TTL_S, so
the bot stops sending a backend's jobs where nobody would take them, and says so.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass

from redis.asyncio import Redis

from services.workers.keys import RedisKeys

ANNOUNCE_EVERY_S = 2.0
ANNOUNCE_TTL_S = 10


@dataclass(frozen=True)
class WorkerInfo:
    worker_id: str  # also its consumer name in the job streams
    backends: tuple[str, ...]  # backends it checked it can run, and reads the job streams of
    concurrency: int  # jobs it runs at once
    host: str = ""
    pid: int = 0
    started_at: float = 0.0

    @classmethod
    def here(cls, worker_id: str, backends: tuple[str, ...], concurrency: int) -> WorkerInfo:
        return cls(worker_id, backends, concurrency, socket.gethostname(), os.getpid(), time.time())

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: bytes | str) -> WorkerInfo:
        data = json.loads(text)
        data["backends"] = tuple(data.get("backends", ()))
        return cls(**data)


async def announce(redis: Redis, keys: RedisKeys, info: WorkerInfo) -> None:
    await redis.set(keys.worker(info.worker_id), info.to_json(), ex=ANNOUNCE_TTL_S)


async def withdraw(redis: Redis, keys: RedisKeys, worker_id: str) -> None:
    await redis.delete(keys.worker(worker_id))


async def live_workers(redis: Redis, keys: RedisKeys) -> list[WorkerInfo]:
    """Every worker whose announcement has not expired."""
    names = [name async for name in redis.scan_iter(match=keys.worker_pattern, count=100)]
    if not names:
        return []
    found = []
    for raw in await redis.mget(names):
        if raw is None:
            continue
        try:
            found.append(WorkerInfo.from_json(raw))
        except (ValueError, TypeError):
            continue  # another release's shape: ignore rather than fail the bot
    return found
