"""Injected REST failures: Discord having a bad minute, on the routes a test names.

Why: delivery must survive what Discord really does under load (5xx bursts, 429 with `retry_after`, a
connection cut while an upload is read), and only a server that misbehaves on cue can show it. A fault is
checked before routing and authentication, the way an outage in front of Discord's API would be.
"""

from __future__ import annotations

import fnmatch
import json
import time
from dataclasses import dataclass, field

from aiohttp import web

# Real Discord answers through Google's front end; discord.py treats a 429 without `Via` as a Cloudflare ban
# and raises at once instead of sleeping `retry_after`.
VIA = "1.1 google"


@dataclass
class Fault:
    """Requests matching `method` and `path` fail, for the next `times` of them or for `seconds`, or until
    `stop()` (neither given). `path` is an fnmatch pattern on the path after /api/v10, e.g.
    "/webhooks/*/messages/@original"; `uploads_only` limits it to multipart requests (ones carrying files)."""

    method: str  # HTTP method, or "*"
    path: str  # fnmatch pattern, e.g. "/channels/*/messages"
    status: int = 500  # answered status (ignored when `drop`)
    retry_after: float | None = None  # for 429: `retry_after` in the body and a Retry-After header
    drop: bool = False  # read a little of the body, then close the connection without answering
    times: int | None = None  # fail this many matching requests, then pass them through
    seconds: float | None = None  # fail matching requests for this long after the first one it fails
    uploads_only: bool = False  # only requests whose body is multipart (uploads)
    hits: list[float] = field(default_factory=list)  # when each failed request came (as in fd.request_times)
    stopped: bool = False

    def stop(self) -> None:
        """From now on, matching requests go through."""
        self.stopped = True

    @property
    def active(self) -> bool:
        if self.stopped or (self.times is not None and len(self.hits) >= self.times):
            return False
        if self.seconds is not None and self.hits:
            return time.monotonic() - self.hits[0] < self.seconds
        return True

    def matches(self, request: web.Request, api_path: str) -> bool:
        if self.method not in ("*", request.method):
            return False
        if self.uploads_only and not request.content_type.startswith("multipart/"):
            return False
        return fnmatch.fnmatchcase(api_path, self.path)


class Faults:
    """The faults in force on one fake Discord, first match wins."""

    def __init__(self) -> None:
        self.installed: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        self.installed.append(fault)
        return fault

    def clear(self) -> None:
        for fault in self.installed:
            fault.stop()
        self.installed.clear()

    async def answer(self, request: web.Request, api_path: str, at: float) -> web.StreamResponse | None:
        """A failing answer if a fault matches this request (received at `at`), else None (handle it)."""
        fault = next((f for f in self.installed if f.active and f.matches(request, api_path)), None)
        if fault is None:
            return None
        fault.hits.append(at)
        if fault.drop:
            await request.content.read(1024)  # part of the upload is on the wire when the line goes
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)  # never reaches the client: the socket is gone
        body: dict[str, object] = {"message": f"{fault.status}: injected fault", "code": 0}
        headers = {"Content-Type": "application/json", "Via": VIA}
        if fault.retry_after is not None:
            body.update(retry_after=fault.retry_after, **{"global": False})
            headers["Retry-After"] = str(fault.retry_after)
            headers["X-RateLimit-Scope"] = "user"
        await request.read()  # a real server reads the request before answering; keeps the client happy
        return web.Response(body=json.dumps(body).encode(), status=fault.status, headers=headers)
