"""One Redis client per side, with timeouts that turn a dead server into an error instead of a hang.

`redis://` and `rediss://` (TLS) URLs both work, with a password in the URL. Every socket operation has a
timeout longer than the longest blocking read we issue, so an outage is noticed within seconds.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

BLOCK_MS = 1000  # longest blocking stream read: how soon a loop notices a stop, a reclaim, an outage
SOCKET_TIMEOUT_S = BLOCK_MS / 1000 + 5.0
CONNECT_TIMEOUT_S = 3.0

# What an unreachable or restarting Redis raises (a refused connection, a reset, a timeout).
OUTAGE_ERRORS: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError, OSError)

__all__ = ["OUTAGE_ERRORS", "RedisError", "connect", "connection_kwargs"]


def connection_kwargs() -> dict[str, Any]:
    """Options for every pool we open (ours and taskiq's broker)."""
    return {
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "health_check_interval": 10,
        "retry_on_timeout": False,
    }


async def stream_tail(redis: Any, stream: str) -> bytes:
    """The id of a stream's newest entry ("0-0" when empty): read from there to see only what comes next."""
    newest = await redis.xrevrange(stream, count=1)
    return newest[0][0] if newest else b"0-0"


def connect(url: str) -> Any:
    """A client for `url`; connections open lazily, so this never fails while Redis is down.

    Typed Any on purpose: redis-py declares every reply as a union of all RESP shapes, and the stream
    replies we read (lists of (id, fields) pairs) would need a cast at every use."""
    return Redis.from_url(url, decode_responses=False, **connection_kwargs())
