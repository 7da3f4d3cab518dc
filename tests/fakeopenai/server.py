"""A fake OpenAI-compatible chat server for tests: real HTTP on loopback, scripted replies.

It runs its own event loop in a background thread, so it serves both the notes
backend (which calls the blocking client from a worker thread, each call on a
fresh `asyncio.run` loop) and async tests, without sharing a loop with either.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Reply:
    """One scripted answer to one /v1/chat/completions request."""

    content: str | None = None  # assistant message text (None for an error reply)
    status: int = 200  # HTTP status
    headers: tuple[tuple[str, str], ...] = ()  # extra response headers (Retry-After …)
    delay_s: float = 0.0  # wait before answering (timeouts)
    finish_reason: str = "stop"  # "length" simulates a reply cut at the token limit
    error: str = ""  # error message body for non-200 replies

    @classmethod
    def json(cls, value: Any, *, delay_s: float = 0.0) -> Reply:
        """A reply whose text is `value` serialised as JSON."""
        return cls(content=json.dumps(value), delay_s=delay_s)

    @classmethod
    def text(cls, text: str, *, delay_s: float = 0.0) -> Reply:
        return cls(content=text, delay_s=delay_s)

    @classmethod
    def rate_limited(cls, retry_after: str = "1") -> Reply:
        return cls(status=429, headers=(("Retry-After", retry_after),), error="Rate limit reached, slow down")

    @classmethod
    def server_error(cls, status: int = 500) -> Reply:
        return cls(status=status, error="The server had an error while processing your request")

    @classmethod
    def slow(cls, delay_s: float, value: Any = None) -> Reply:
        return cls(content=json.dumps(value if value is not None else {}), delay_s=delay_s)


Responder = Callable[[dict[str, Any]], Reply]


@dataclass
class Recorded:
    """One request as the server saw it."""

    body: dict[str, Any]  # the JSON body (model, messages, response_format, max_tokens …)
    headers: dict[str, str]  # request headers (Authorization included, so tests can check it was sent)
    answered: int  # HTTP status returned
    at: float = field(default_factory=time.monotonic)

    @property
    def response_format(self) -> str | None:
        fmt = self.body.get("response_format")
        return fmt.get("type") if isinstance(fmt, dict) else None

    @property
    def user_text(self) -> str:
        return "\n".join(
            str(m.get("content", "")) for m in self.body.get("messages", []) if m.get("role") == "user"
        )

    @property
    def system_text(self) -> str:
        return "\n".join(
            str(m.get("content", "")) for m in self.body.get("messages", []) if m.get("role") == "system"
        )


class FakeOpenAI:
    """Serve `/v1/chat/completions` from a script; record every request.

    `script(*replies)` queues answers in order; when the queue is empty, `responder` (if set) answers,
    else the server returns 500 "script exhausted" so a test notices an unexpected extra call.
    `reject_json_schema` makes it behave like llama.cpp's server (400 on `json_schema`);
    `reject_response_format` like a server that accepts neither structured mode.
    """

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.reject_json_schema = False
        self.reject_response_format = False
        self.responder: Responder | None = None
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # --- script API -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    @property
    def pending(self) -> int:
        """Scripted replies not yet used."""
        with self._lock:
            return len(self._script)

    def completions(self) -> list[Recorded]:
        """Requests that reached the model (HTTP 200)."""
        return [r for r in self.requests if r.answered == 200]

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._start_site())
            except BaseException as exc:  # pragma: no cover - reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._stop_site())
            loop.run_until_complete(_cancel_leftovers())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-openai", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = None
        self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _start_site(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop_site(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- the endpoint -----------------------------------------------------------------------------

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self._script:
                return self._script.pop(0)
        if self.responder is not None:
            return self.responder(body)
        return Reply(status=500, error="fake OpenAI: script exhausted")

    async def _chat(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(400, "body is not JSON", "invalid_request_error")
        headers = dict(request.headers)
        fmt = body.get("response_format")
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind is not None and (
            self.reject_response_format or (self.reject_json_schema and kind == "json_schema")
        ):
            self.requests.append(Recorded(body, headers, 400))
            return _error(400, f"response_format type {kind!r} is not supported", "invalid_request_error")
        reply = self._next(body)
        self.requests.append(Recorded(body, headers, reply.status))
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.status != 200:
            error_type = "rate_limit_error" if reply.status == 429 else "server_error"
            response = _error(reply.status, reply.error or "error", error_type)
            for name, value in reply.headers:
                response.headers[name] = value
            return response
        content = reply.content or ""
        payload = {
            "id": f"chatcmpl-fake{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": _tokens(body),
                "completion_tokens": max(1, len(content) // 4),
                "total_tokens": _tokens(body) + max(1, len(content) // 4),
            },
        }
        return web.json_response(payload, headers=dict(reply.headers))


async def _cancel_leftovers() -> None:
    """Cancel handlers still sleeping (slow replies) so the loop closes without 'task destroyed' noise."""
    current = asyncio.current_task()
    pending = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


def _tokens(body: dict[str, Any]) -> int:
    """A rough token count (4 characters a token) of the request's messages."""
    return max(1, sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4)


def _error(status: int, message: str, error_type: str) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": error_type, "param": None, "code": None}}, status=status
    )
