"""Shows progress and delivers results, for live interactions and after restarts alike.

Everything goes through the interaction's webhook rebuilt from the stored
application id and token, so a job queued before a restart is delivered the
same way as one queued a second ago. When the token has expired (15 minutes),
the result is posted in the channel instead, mentioning only the requester.

A post that fails (Discord 5xx, 429, a cut connection, a timeout) is tried again
with growing waits until it arrives or the give-up horizon passes; a sweep finds
whatever finished but was never posted (after a restart too). Each try holds the
job's delivery claim, and the ack after success ends it for good, so a piece is
posted once however many tries, loops or processes are at it.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import time
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import discord

from cogs.delivery_errors import Failure, Undelivered, Verdict, classify
from cogs.formatting import (
    NO_MENTIONS,
    failure_content,
    fit_content,
    progress_content,
    result_embed,
    safe_text,
)
from cogs.views import result_view
from services.backends.abilities import Ability
from services.engine import Engine
from services.jobs.models import DiscordDelivery, JobEvent, JobRecord, JobState
from services.jobs.retry import RetryPolicy
from services.logtext import clip
from services.presenting import progress_text

log = logging.getLogger(__name__)

# Discord's alias for an interaction's first message; typed Any because discord.py annotates ids as int.
ORIGINAL: Any = "@original"

# Stop using a token a little before Discord does, so a slow upload does not straddle the expiry.
TOKEN_SAFETY_S = 30.0

# Said instead when Discord refuses the real reply for good (no permission to attach, too big, …).
REFUSED_NOTICE = "⚠️ Discord would not accept my reply to this request, so I can't show it here."


@dataclass
class _Route:
    """Where one job's tries go: the interaction webhook until it is gone, then the channel."""

    webhook: bool = True


class Deliverer:
    """Consumes job events: throttled progress edits, then the result or the failure."""

    def __init__(self, bot: discord.Client, engine: Engine, *, interval_s: float) -> None:
        self.bot = bot
        self.engine = engine
        self.interval_s = interval_s
        settings = engine.settings
        self.policy = RetryPolicy.from_settings(settings)
        self.attempt_timeout_s = settings.delivery_attempt_timeout_s
        self.sweep_s = settings.delivery_sweep_s
        self._loops: dict[str, asyncio.Task[None]] = {}  # one delivery loop per job, at most
        self._sweeper: asyncio.Task[None] | None = None
        self._latest: dict[str, JobEvent] = {}
        self._last_edit: dict[str, float] = {}
        self._pending: dict[str, asyncio.Task[None]] = {}
        self._pending_queued: dict[str, bool] = {}  # whether the pending edit waits on the queued pace
        self._ready: dict[str, asyncio.Event] = {}
        self._pump: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._queue = self.engine.jobs.subscribe()
        self._pump = asyncio.create_task(self._run(), name="promptjam-deliverer")
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="promptjam-delivery-sweep")

    async def stop(self) -> None:
        """Stop everything; a delivery cut short gives its claim back, so the next process posts it."""
        self.engine.jobs.unsubscribe(self._queue)
        tasks = [
            t
            for t in [self._pump, self._sweeper, *self._pending.values(), *self._tasks, *self._loops.values()]
            if t is not None
        ]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def expect(self, job_id: str) -> asyncio.Event:
        """Mark a job whose original response is still being deferred: hold edits until it is."""
        event = self._ready.setdefault(job_id, asyncio.Event())
        return event

    async def _sweep_forever(self) -> None:
        """Look for finished jobs that never reached Discord: at start (leftovers from before a restart,
        claims a stopped process left) and every DELIVERY_SWEEP_S after (a claim another process gave up)."""
        await self.bot.wait_until_ready()
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("looking for undelivered jobs failed")
            await asyncio.sleep(self.sweep_s)

    async def sweep(self) -> None:
        """Start a delivery loop for every undelivered job that has none here."""
        for record in await self.engine.jobs.undelivered():
            ready = self._ready.get(record.job_id)
            if ready is not None and not ready.is_set():
                continue  # its reply is still being deferred; _finish starts it after
            self._ensure_loop(record.job_id)

    # --- events --------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                self._on_event(event)
            except Exception:
                log.exception("progress handling failed for job %s", event.job_id)

    def _on_event(self, event: JobEvent) -> None:
        job_id = event.job_id
        if event.kind in ("done", "failed", "cancelled"):
            self._latest.pop(job_id, None)
            pending = self._pending.pop(job_id, None)
            if pending is not None:
                pending.cancel()
            self._spawn(self._finish(job_id))
            return
        previous = self._latest.get(job_id)
        self._latest[job_id] = event
        if event.kind == "queued" and previous is not None and previous.position == event.position:
            return  # nothing new to show
        pending = self._pending.get(job_id)
        if pending is not None and event.kind != "queued" and self._pending_queued.get(job_id):
            pending.cancel()  # the job started: show it now rather than after the slow queued interval
            self._pending.pop(job_id, None)
        if job_id not in self._pending:
            # Waiting jobs move up slowly; editing them less often keeps many queued jobs from
            # flooding Discord with edits (webhook edits are rate limited).
            queued = event.kind == "queued"
            interval = max(5.0, 3 * self.interval_s) if queued else self.interval_s
            wait = max(0.0, self._last_edit.get(job_id, 0.0) + interval - time.monotonic())
            self._pending_queued[job_id] = queued
            self._pending[job_id] = asyncio.create_task(self._edit_later(job_id, wait))

    async def _edit_later(self, job_id: str, wait: float) -> None:
        try:
            ready = self._ready.get(job_id)
            if ready is not None:
                await ready.wait()
            await asyncio.sleep(wait)
            event = self._latest.get(job_id)
            record = await self.engine.jobs.get(job_id)
            if event is None or record is None or record.state.finished or record.delivery is None:
                return
            self._last_edit[job_id] = time.monotonic()
            await self._edit_progress(record, record.delivery, progress_text(event))
        except asyncio.CancelledError:
            raise
        except discord.HTTPException as exc:
            log.info("progress edit for job %s failed: %s", job_id, clip(exc))
        finally:
            if self._pending.get(job_id) is asyncio.current_task():
                self._pending.pop(job_id, None)

    async def _edit_progress(self, record: JobRecord, delivery: DiscordDelivery, line: str) -> None:
        if not _token_valid(delivery):
            return
        webhook = self._webhook(delivery)
        await webhook.edit_message(
            ORIGINAL,
            content=progress_content(record.request.prompt, line),
            allowed_mentions=NO_MENTIONS,
        )

    async def _finish(self, job_id: str) -> None:
        ready = self._ready.get(job_id)
        if ready is not None:
            await ready.wait()
        self._ensure_loop(job_id)
        self._ready.pop(job_id, None)
        self._last_edit.pop(job_id, None)
        self._pending_queued.pop(job_id, None)

    # --- delivery ------------------------------------------------------------------------------

    def _webhook(self, delivery: DiscordDelivery) -> discord.Webhook:
        return discord.Webhook.partial(delivery.application_id, delivery.interaction_token, client=self.bot)

    def delivering(self) -> set[str]:
        """Jobs whose outcome this process is trying to post right now (retries included)."""
        return set(self._loops)

    def _ensure_loop(self, job_id: str) -> None:
        """Deliver `job_id` unless a loop here already is (the done event and a sweep can both ask)."""
        if job_id in self._loops:
            return
        task = asyncio.create_task(self._deliver_until_done(job_id), name=f"promptjam-deliver-{job_id}")
        self._loops[job_id] = task
        task.add_done_callback(
            lambda t: self._loops.pop(job_id, None) if self._loops.get(job_id) is t else None
        )

    async def _deliver_until_done(self, job_id: str) -> None:
        """Try to post one job's outcome until it is posted, can never be, or another live owner holds it
        (then a later sweep looks again)."""
        jobs = self.engine.jobs
        route = _Route()
        failures = 0
        last: Failure | None = None
        try:
            while True:
                record = await jobs.get(job_id)
                if record is None or record.delivered or record.delivery is None:
                    return  # gone, done, or not a Discord job (command line)
                if self.policy.expired(record.finished_at, time.time()):
                    await self._give_up(record, last)
                    return
                if not await jobs.claim_delivery(job_id):
                    return
                failure = await self._attempt(record, record.delivery, route)
                if failure is None:
                    return
                failures += 1
                last = failure
                wait = self.policy.delay(failures, failure.retry_after)
                log.warning(
                    "delivering job %s failed (%s); try %d in %.1f s",
                    job_id,
                    failure.reason,
                    failures + 1,
                    wait,
                )
                await asyncio.sleep(wait)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("delivering job %s stopped on an unexpected error; the next sweep retries", job_id)

    async def _attempt(self, record: JobRecord, delivery: DiscordDelivery, route: _Route) -> Failure | None:
        """One claimed try. Posted or refused for good: acknowledged, None. Worth retrying: the claim is
        given back and the failure returned."""
        jobs = self.engine.jobs
        try:
            # Bounded: discord.py retries a 5xx for ~25 s by itself, and a stalled upload could hang for
            # minutes; both kinds of post are safe to repeat (an edit of @original, a nonce'd channel post).
            await asyncio.wait_for(self._send(record, delivery, route), self.attempt_timeout_s)
        except asyncio.CancelledError:
            # Stopping mid-send: give the claim back so the next process need not wait for it.
            with suppress(Exception):
                await asyncio.shield(jobs.release_delivery(record.job_id))
            raise
        except TimeoutError:
            failure = Failure(Verdict.RETRY, f"no answer within {self.attempt_timeout_s:g} s")
        except Exception as exc:
            failure = classify(exc, webhook=False)
            if failure.verdict is not Verdict.RETRY:
                log.warning(
                    "job %s: Discord refused the reply for good (%s); sending a short notice instead",
                    record.job_id,
                    failure.reason,
                    exc_info=exc if failure.unexpected else None,
                )
                await self._send_notice(record, delivery, route)
                await jobs.ack_delivered(record.job_id, failure=f"refused: {failure.reason}")
                return None
        else:
            await jobs.ack_delivered(record.job_id)
            return None
        await jobs.release_delivery(record.job_id)
        return failure

    async def _give_up(self, record: JobRecord, last: Failure | None) -> None:
        """Past the horizon: stop for good, under the claim so a live sender elsewhere is not overruled."""
        jobs = self.engine.jobs
        if not await jobs.claim_delivery(record.job_id):
            return
        horizon = self.policy.give_up_s
        span = f"{horizon / 3600:g} h" if horizon >= 3600 else f"{horizon:g} s"
        reason = (
            f"gave up {span} after the job finished; last failure: {last.reason if last else 'none seen'}"
        )
        log.error("job %s: %s", record.job_id, reason)
        await jobs.ack_delivered(record.job_id, failure=reason)

    async def _send(self, record: JobRecord, delivery: DiscordDelivery, route: _Route) -> None:
        """Post through the webhook while it lives, else in the channel; raise Undelivered on failure."""
        if route.webhook and _token_valid(delivery):
            try:
                await self._send_webhook(record, delivery)
                return
            except Exception as exc:
                failure = classify(exc, webhook=True)
                if failure.verdict is not Verdict.GONE:
                    raise Undelivered(failure) from exc
                log.info(
                    "job %s: interaction webhook gone (%s); posting in the channel",
                    record.job_id,
                    failure.reason,
                )
        route.webhook = False
        try:
            await self._send_channel(record, delivery)
        except Undelivered:
            raise
        except Exception as exc:
            raise Undelivered(classify(exc, webhook=False)) from exc

    async def _send_notice(self, record: JobRecord, delivery: DiscordDelivery, route: _Route) -> None:
        """A short text in place of a reply Discord refused, where it can still go; best effort."""
        try:
            async with asyncio.timeout(self.attempt_timeout_s):
                if route.webhook and _token_valid(delivery):
                    await self._webhook(delivery).edit_message(
                        ORIGINAL,
                        content=REFUSED_NOTICE,
                        embed=None,
                        attachments=[],
                        view=None,
                        allowed_mentions=NO_MENTIONS,
                    )
                    return
                channel = await self._channel(record, delivery)
                user = record.request.user_id
                await channel.send(
                    content=f"<@{user}> {REFUSED_NOTICE}",
                    nonce=_nonce(record.job_id, "notice"),
                    allowed_mentions=_requester_only(user),
                )
        except Exception as exc:
            log.warning(
                "job %s: the notice could not be posted either (%s)",
                record.job_id,
                classify(exc, webhook=route.webhook).reason,
            )

    async def _read(self, path: str | None) -> bytes | None:
        """A result file, read off the event loop (MP3s can be megabytes)."""
        return await asyncio.to_thread(self.engine.result_file, path)

    async def _payload(self, record: JobRecord) -> dict[str, Any]:
        if record.state is JobState.DONE and record.result is not None:
            result = record.result
            mp3 = await self._read(result.mp3_path)
            if mp3 is None:
                return {"content": "❌ The finished file was lost before it could be sent. Please try again."}
            files = [discord.File(io.BytesIO(mp3), filename=result.mp3_filename)]
            preview = await self._read(result.preview_path)
            if preview is not None:
                files.append(discord.File(io.BytesIO(preview), filename="preview.png"))
            for path in result.attachments:
                extra = await self._read(path)
                if extra is not None:
                    files.append(discord.File(io.BytesIO(extra), filename=path.rsplit("attach-", 1)[-1]))
            # Where the notes are the point (the record's MIDI_OUT) the .mid rides along; others: a button.
            if self.engine.backend_can(result.backend, Ability.MIDI_OUT):
                midi = await self._read(result.midi_path)
                if midi is not None:
                    name = result.mp3_filename.removesuffix(".mp3") + ".mid"
                    files.append(discord.File(io.BytesIO(midi), filename=name))
            base = result.mp3_filename.removesuffix(f"-{result.stems[0][0]}.mp3") if result.stems else ""
            if result.stems and result.stems_together:
                for name, path in result.stems[1:]:
                    stem = await self._read(path)
                    if stem is not None:
                        files.append(discord.File(io.BytesIO(stem), filename=f"{base}-{name}.mp3"))
            # Jam renders (request.jam set) carry credits and get no derive buttons (those remake one prompt).
            buttons = record.request.jam is None and (not result.stems or not result.stems_together)
            sings = self.engine.backend_can(result.backend, Ability.LYRICS)
            view = result_view(
                record.job_id,
                has_midi=result.midi_path is not None,
                song=sings,
                stems_offered=tuple(name for name, _ in result.stems[1:]) if result.stems else (),
            )
            return {
                "content": credits_content(result.credits),
                "embed": result_embed(record, result),
                "files": files,
                "view": view if buttons else None,
            }
        if record.state is JobState.CANCELLED:
            return {"content": f"🛑 Cancelled.\n> {safe_text(record.request.prompt, 180)}"}
        return {"content": failure_content(record)}

    async def _send_webhook(self, record: JobRecord, delivery: DiscordDelivery) -> None:
        payload = await self._payload(record)
        await self._webhook(delivery).edit_message(
            ORIGINAL,
            content=fit_content(payload.get("content")) or None,
            embed=payload.get("embed"),
            attachments=payload.get("files", []),
            view=payload.get("view"),
            allowed_mentions=NO_MENTIONS,
        )

    async def _channel(self, record: JobRecord, delivery: DiscordDelivery) -> discord.abc.Messageable:
        """The channel the request came from (Undelivered when there is none to post in)."""
        channel_id = delivery.channel_id or record.request.channel_id
        if channel_id is None:
            raise Undelivered(Failure(Verdict.REFUSED, "token expired and no channel to post in"))
        channel = self.bot.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.bot.fetch_channel(channel_id)
            except Exception as exc:
                raise Undelivered(classify(exc, webhook=False)) from exc
        if not isinstance(channel, discord.abc.Messageable):
            raise Undelivered(Failure(Verdict.REFUSED, f"channel {channel_id} takes no messages"))
        return channel

    async def _send_channel(self, record: JobRecord, delivery: DiscordDelivery) -> None:
        channel = await self._channel(record, delivery)
        user = record.request.user_id
        payload = await self._payload(record)
        lead = f"<@{user}> here is your music:" if record.state is JobState.DONE else f"<@{user}>"
        content = f"{lead}\n{payload['content']}".strip() if payload.get("content") else lead
        await channel.send(
            content=fit_content(content),
            embed=payload.get("embed"),  # type: ignore[arg-type]
            files=payload.get("files", []),
            view=payload.get("view"),  # type: ignore[arg-type]
            nonce=_nonce(record.job_id, "reply"),  # a retry of a send that did land is not posted again
            allowed_mentions=_requester_only(user),
        )


def credits_content(credits: tuple[str, ...], limit: int = 1900) -> str:
    """A result's credits as message text (jams): one escaped line each, cut to fit a message."""
    if not credits:
        return ""
    text = "**Credits**"
    for i, line in enumerate(credits):
        entry = "\n" + safe_text(line, 200)
        if len(text) + len(entry) > limit:
            return text + f"\n… and {len(credits) - i} more"
        text += entry
    return text


def _token_valid(delivery: DiscordDelivery) -> bool:
    return time.time() < delivery.token_expires_at - TOKEN_SAFETY_S


def _requester_only(user_id: int) -> discord.AllowedMentions:
    return discord.AllowedMentions(everyone=False, roles=False, users=[discord.Object(user_id)])


def _nonce(job_id: str, kind: str) -> str:
    """The same for every try of one post: Discord dedupes an enforced nonce for minutes (≤ 25 chars)."""
    return hashlib.blake2b(f"{kind}:{job_id}".encode(), digest_size=12).hexdigest()
