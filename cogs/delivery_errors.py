"""What a failed post to Discord means for the next try: wait and retry, switch route, or stop.

Why a module of its own: the answer depends on discord.py's and aiohttp's exception types and on
Discord's status codes, and every delivery path (webhook, channel post, text-only notice) needs the same.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import aiohttp
import discord


class Verdict(enum.Enum):
    RETRY = "retry"  # Discord or the network had a bad moment: the same post may work later
    GONE = "gone"  # the interaction webhook is no longer usable (token expired, message deleted)
    REFUSED = "refused"  # Discord will never take this post (no access, too big, malformed)


@dataclass(frozen=True)
class Failure:
    verdict: Verdict
    reason: str  # for the log: "503 Service Unavailable", "connection reset", …
    retry_after: float | None = None  # seconds Discord asked us to wait (429)
    unexpected: bool = False  # not an answer from Discord or the network: a bug, log its traceback


class Undelivered(Exception):
    """A post failed; `failure` says what that means for the next try."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.reason)
        self.failure = failure


def classify(exc: BaseException, *, webhook: bool) -> Failure:
    """The meaning of `exc` raised by a post through the interaction webhook (`webhook`) or to a channel.

    5xx, 429, connection errors and timeouts are worth retrying (discord.py has already retried 5xx a few
    times itself by then). On the webhook, 401/403/404 mean the token or the message is gone, so the
    channel is next. Anything else (403 on the channel, 413, 400, a bug) will fail the same way again.
    """
    if isinstance(exc, Undelivered):
        return exc.failure
    if isinstance(exc, discord.RateLimited):  # discord.py's max_ratelimit_timeout was exceeded
        return Failure(Verdict.RETRY, f"rate limited for {exc.retry_after:.1f} s", exc.retry_after)
    if isinstance(exc, discord.HTTPException):
        reason = f"{exc.status} {getattr(exc.response, 'reason', '') or ''}".strip()
        if exc.code:
            reason += f" (code {exc.code})"
        if exc.status == 429:
            return Failure(Verdict.RETRY, reason, _retry_after(exc))
        if exc.status >= 500:
            return Failure(Verdict.RETRY, reason)
        if webhook and exc.status in (401, 403, 404):
            return Failure(Verdict.GONE, reason)
        return Failure(Verdict.REFUSED, reason)
    if isinstance(exc, TimeoutError):
        return Failure(Verdict.RETRY, "timed out")
    if isinstance(exc, aiohttp.ClientError | OSError):
        return Failure(Verdict.RETRY, f"connection failed ({type(exc).__name__}: {exc})")
    return Failure(Verdict.REFUSED, f"unexpected {type(exc).__name__}: {exc}", unexpected=True)


def _retry_after(exc: discord.HTTPException) -> float | None:
    """Discord's wait for a 429, from the headers (discord.py keeps only the message of the body)."""
    headers = getattr(exc.response, "headers", None) or {}
    for name in ("Retry-After", "X-RateLimit-Reset-After"):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value))
        except ValueError:
            continue
    return None
