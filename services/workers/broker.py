"""taskiq-redis's Redis Streams broker, made safe for jobs that take minutes and workers that get killed.

Measured on taskiq 0.13.0 + taskiq-redis 1.2.4 (tests/test_workers_broker.py keeps the first one honest):
- `RedisStreamBroker.listen` runs XAUTOCLAIM only after XREADGROUP returned a new message, so a killed
  worker's job is never taken over while the stream stays idle. Here every wake-up (at most BLOCK_MS apart)
  looks for abandoned jobs, whether or not anything new arrived.
- A message is taken over once it sat unacknowledged for `idle_timeout`, so a job longer than that runs twice.
  Rather than an idle timeout longer than the longest job (which makes recovering from a dead worker just as
  slow), a live worker renews its claim on every message it holds (XCLAIM by itself, idle time back to 0)
  every quarter of WORKER_CLAIM_TIMEOUT_S. Only a worker that stopped renewing loses its jobs.
- Its autoclaim lock has no expiry by default: a worker killed while holding it would stop every takeover.
  XAUTOCLAIM is atomic on its own, so none is taken here.
- A Redis restart without persistence loses the consumer group (NOGROUP); a broken connection ends the
  upstream generator. Here both are waited out and the groups declared again, so a worker recovers by itself.
- Groups start at id 0, not "$": a job sent before any worker ever ran (or right after a Redis restart) is
  still read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from taskiq import AckableMessage
from taskiq_redis import RedisStreamBroker

from services.workers.connection import BLOCK_MS, OUTAGE_ERRORS, connection_kwargs
from services.workers.keys import CONSUMER_GROUP

log = logging.getLogger(__name__)

RETRY_S = 1.0  # wait between reconnection attempts while Redis is unreachable


class ReclaimingStreamBroker(RedisStreamBroker):
    """Reads the job streams of the backends one worker serves; see the module docstring for what differs."""

    def __init__(
        self,
        url: str,
        *,
        streams: list[str],
        claim_timeout_s: float,
        maxlen: int,
        consumer_name: str | None = None,
    ) -> None:
        if not streams:
            raise ValueError("a broker needs at least one stream")
        super().__init__(
            url,
            queue_name=streams[0],
            consumer_group_name=CONSUMER_GROUP,
            consumer_name=consumer_name,
            consumer_id="0",
            xread_block=BLOCK_MS,
            maxlen=maxlen,
            approximate=True,
            idle_timeout=int(claim_timeout_s * 1000),
            unacknowledged_batch_size=1,
            xread_count=1,
            additional_streams={stream: ">" for stream in streams[1:]},
            **connection_kwargs(),
        )
        self.streams = list(streams)
        self.claim_timeout_s = claim_timeout_s
        self._held: dict[tuple[str, bytes], None] = {}  # (stream, message id) fetched and not acknowledged
        self._renewer: asyncio.Task[None] | None = None
        self.reclaimed = 0  # messages taken over from silent workers (for logs and the bench)

    # --- lifecycle -----------------------------------------------------------------------------

    async def startup(self) -> None:
        """The bot only sends: it must start even while Redis is down, and needs no consumer group."""
        if not self.is_worker_process:
            return
        await super().startup()
        self._renewer = asyncio.create_task(self._renew_forever(), name="promptjam-claim-renewer")

    async def shutdown(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        await super().shutdown()

    async def _declare_consumer_group(self) -> None:
        async with Redis(connection_pool=self.connection_pool) as conn:
            for stream in self.streams:
                try:
                    await conn.xgroup_create(stream, self.consumer_group_name, id="0", mkstream=True)
                except ResponseError as exc:
                    if "BUSYGROUP" not in str(exc):
                        raise

    # --- reading -------------------------------------------------------------------------------

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        """New messages first, then (every wake-up, traffic or not) one abandoned message per stream."""
        outage = False
        while True:
            try:
                await self._declare_consumer_group()
                conn: Any
                async with Redis(connection_pool=self.connection_pool) as conn:
                    if outage:
                        log.info("Redis is reachable again; reading jobs")
                        outage = False
                    while True:
                        fetched = await conn.xreadgroup(
                            self.consumer_group_name,
                            self.consumer_name,
                            {stream: ">" for stream in self.streams},
                            block=BLOCK_MS,
                            count=1,
                        )
                        for stream, messages in fetched or []:
                            for message_id, fields in messages:
                                yield self._ackable(_text(stream), message_id, fields)
                        for stream in self.streams:
                            for message_id, fields in await self._take_over(conn, stream):
                                yield self._ackable(stream, message_id, fields)
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                log.warning("the job streams were reset (Redis restarted?); joining them again")
            except OUTAGE_ERRORS as exc:
                if not outage:
                    log.warning(
                        "Redis is unreachable (%s); retrying every %.0f s", type(exc).__name__, RETRY_S
                    )
                    outage = True
                await asyncio.sleep(RETRY_S)

    async def _take_over(self, conn: Any, stream: str) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """Claim one message another consumer has left unacknowledged longer than the claim timeout."""
        reply = await conn.xautoclaim(
            stream,
            self.consumer_group_name,
            self.consumer_name,
            min_idle_time=self.idle_timeout,
            start_id="0-0",
            count=1,
        )
        claimed = []
        for message_id, fields in reply[1]:
            if not fields:  # trimmed from the stream meanwhile: nothing left to run
                await conn.xack(stream, self.consumer_group_name, message_id)
                continue
            log.warning(
                "taking over job message %s on %s from a worker that went silent", _text(message_id), stream
            )
            self.reclaimed += 1
            claimed.append((message_id, fields))
        return claimed

    def _ackable(self, stream: str, message_id: bytes, fields: dict[bytes, bytes]) -> AckableMessage:
        key = (stream, message_id)
        self._held[key] = None
        return AckableMessage(data=fields[b"data"], ack=self._acker(key))

    def _acker(self, key: tuple[str, bytes]) -> Callable[[], Awaitable[None]]:
        async def ack() -> None:
            stream, message_id = key
            async with Redis(connection_pool=self.connection_pool) as conn:
                await conn.xack(stream, self.consumer_group_name, message_id)
            self._held.pop(key, None)

        return ack

    # --- renewing claims -----------------------------------------------------------------------

    async def _renew_forever(self) -> None:
        """Reset the idle time of every message this worker holds, well inside the claim timeout."""
        interval = self.claim_timeout_s / 4
        while True:
            await asyncio.sleep(interval)
            try:
                await self.renew_claims()
            except OUTAGE_ERRORS:
                pass  # Redis is down: nobody can take the jobs over either
            except ResponseError as exc:
                log.debug("renewing claims failed: %s", exc)

    async def renew_claims(self) -> None:
        by_stream: dict[str, list[bytes]] = {}
        for stream, message_id in list(self._held):
            by_stream.setdefault(stream, []).append(message_id)
        if not by_stream:
            return
        conn: Any
        async with Redis(connection_pool=self.connection_pool) as conn:
            for stream, held in by_stream.items():
                # Only messages still ours: XCLAIM would also take back one another worker took over.
                pending = await conn.xpending_range(
                    stream,
                    self.consumer_group_name,
                    min="-",
                    max="+",
                    count=len(held) + 64,
                    consumername=self.consumer_name,
                )
                ours = {_bytes(entry["message_id"]) for entry in pending}
                ids = [message_id for message_id in held if message_id in ours]
                for message_id in set(held) - ours:
                    log.warning("lost the claim on job message %s on %s", _text(message_id), stream)
                    self._held.pop((stream, message_id), None)
                if not ids:
                    continue
                kept = await conn.xclaim(
                    stream,
                    self.consumer_group_name,
                    self.consumer_name,
                    min_idle_time=0,
                    message_ids=ids,
                    justid=True,
                )
                for message_id in set(ids) - {_bytes(i) for i in kept}:  # trimmed from the stream meanwhile
                    self._held.pop((stream, message_id), None)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()
