"""Shows progress and delivers results, for live interactions and after restarts alike.

Everything goes through the interaction's webhook rebuilt from the stored
application id and token, so a job queued before a restart is delivered the
same way as one queued a second ago. When the token has expired (15 minutes),
the result is posted in the channel instead, mentioning only the requester.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from contextlib import suppress
from typing import Any

import discord

from cogs.formatting import NO_MENTIONS, failure_content, progress_content, result_embed, safe_text
from cogs.views import result_view
from services.engine import Engine
from services.jobs.models import DiscordDelivery, JobEvent, JobRecord, JobState
from services.logtext import clip
from services.presenting import progress_text

log = logging.getLogger(__name__)

# Discord's alias for an interaction's first message; typed Any because discord.py annotates ids as int.
ORIGINAL: Any = "@original"

# Backends whose notes are the point: their reply carries the .mid next to the MP3 (others have a button).
MIDI_ATTACHED = frozenset({"notes"})

# Stop using a token a little before Discord does, so a slow upload does not straddle the expiry.
TOKEN_SAFETY_S = 30.0


class Deliverer:
    """Consumes job events: throttled progress edits, then the result or the failure."""

    def __init__(self, bot: discord.Client, engine: Engine, *, interval_s: float) -> None:
        self.bot = bot
        self.engine = engine
        self.interval_s = interval_s
        self._latest: dict[str, JobEvent] = {}
        self._last_edit: dict[str, float] = {}
        self._pending: dict[str, asyncio.Task[None]] = {}
        self._pending_queued: dict[str, bool] = {}  # whether the pending edit waits on the queued pace
        self._ready: dict[str, asyncio.Event] = {}
        self._pump: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._queue = self.engine.job_service.subscribe()
        self._pump = asyncio.create_task(self._run(), name="promptjam-deliverer")
        self._spawn(self._deliver_leftovers())

    async def stop(self) -> None:
        self.engine.job_service.unsubscribe(self._queue)
        tasks = [t for t in [self._pump, *self._pending.values(), *self._tasks] if t is not None]
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

    async def _deliver_leftovers(self) -> None:
        """Outcomes that finished but never reached Discord before the last stop."""
        await self.bot.wait_until_ready()
        for record in await self.engine.job_service.undelivered():
            await self.deliver(record)

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
            record = await self.engine.job_service.get(job_id)
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
        record = await self.engine.job_service.get(job_id)
        if record is not None:
            await self.deliver(record)
        self._ready.pop(job_id, None)
        self._last_edit.pop(job_id, None)
        self._pending_queued.pop(job_id, None)

    # --- delivery ------------------------------------------------------------------------------

    def _webhook(self, delivery: DiscordDelivery) -> discord.Webhook:
        return discord.Webhook.partial(delivery.application_id, delivery.interaction_token, client=self.bot)

    async def deliver(self, record: JobRecord) -> None:
        """Post a finished job's outcome exactly once."""
        jobs = self.engine.job_service
        if record.state is JobState.CANCELLED:
            if record.delivery and _token_valid(record.delivery):
                with suppress(discord.HTTPException):
                    await self._webhook(record.delivery).edit_message(
                        ORIGINAL,
                        content=f"🛑 Cancelled.\n> {safe_text(record.request.prompt, 180)}",
                        allowed_mentions=NO_MENTIONS,
                    )
            await jobs.ack_delivered(record.job_id)
            return
        if record.delivery is None:
            return  # not a Discord job (command line)
        if not await jobs.claim_delivery(record.job_id):
            return
        try:
            sent = await self._send(record, record.delivery)
        except Exception:
            log.exception("delivering job %s failed; will retry after the next restart", record.job_id)
            await jobs.release_delivery(record.job_id)
            return
        if sent:
            await jobs.ack_delivered(record.job_id)
        else:
            await jobs.release_delivery(record.job_id)

    async def _send(self, record: JobRecord, delivery: DiscordDelivery) -> bool:
        if _token_valid(delivery):
            try:
                await self._send_webhook(record, delivery)
                return True
            except (discord.NotFound, discord.Forbidden) as exc:
                log.info(
                    "job %s: interaction webhook gone (%s); posting in the channel", record.job_id, clip(exc)
                )
            except discord.HTTPException as exc:
                if exc.status != 401:
                    raise
                log.info("job %s: interaction token rejected; posting in the channel", record.job_id)
        return await self._send_channel(record, delivery)

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
            if result.backend in MIDI_ATTACHED:
                midi = await self._read(result.midi_path)
                if midi is not None:
                    name = result.mp3_filename.removesuffix(".mp3") + ".mid"
                    files.append(discord.File(io.BytesIO(midi), filename=name))
            # Jam renders (request.jam set) carry credits and get no derive buttons (those remake one prompt).
            buttons = record.request.jam is None
            return {
                "content": credits_content(result.credits),
                "embed": result_embed(record, result),
                "files": files,
                "view": result_view(record.job_id, has_midi=result.midi_path is not None)
                if buttons
                else None,
            }
        return {"content": failure_content(record)}

    async def _send_webhook(self, record: JobRecord, delivery: DiscordDelivery) -> None:
        payload = await self._payload(record)
        await self._webhook(delivery).edit_message(
            ORIGINAL,
            content=payload.get("content") or None,
            embed=payload.get("embed"),
            attachments=payload.get("files", []),
            view=payload.get("view"),
            allowed_mentions=NO_MENTIONS,
        )

    async def _send_channel(self, record: JobRecord, delivery: DiscordDelivery) -> bool:
        channel_id = delivery.channel_id or record.request.channel_id
        if channel_id is None:
            log.warning("job %s: no way left to deliver (token expired, no channel)", record.job_id)
            return True  # nothing more can ever be done; do not retry forever
        channel = self.bot.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.bot.fetch_channel(channel_id)
            except discord.HTTPException as exc:
                log.warning("job %s: channel %s unreachable: %s", record.job_id, channel_id, clip(exc))
                return True
        if not isinstance(channel, discord.abc.Messageable):
            return True
        user = record.request.user_id
        payload = await self._payload(record)
        lead = f"<@{user}> here is your music:" if record.state is JobState.DONE else f"<@{user}>"
        content = f"{lead}\n{payload['content']}".strip() if payload.get("content") else lead
        await channel.send(
            content=content,
            embed=payload.get("embed"),  # type: ignore[arg-type]
            files=payload.get("files", []),
            view=payload.get("view"),  # type: ignore[arg-type]
            allowed_mentions=discord.AllowedMentions(
                everyone=False, roles=False, users=[discord.Object(user)]
            ),
        )
        return True


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
