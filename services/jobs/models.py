"""Plain data that crosses the job seam: requests in, events and results out.

Everything here is JSON-serialisable so it can sit in SQLite today and travel
through a broker to remote workers later without change.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

Action = Literal["create", "reroll", "extend", "variation"]

# Discord lets an interaction token be used for 15 minutes.
INTERACTION_TOKEN_LIFETIME_S = 15 * 60


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class MusicRequest:
    """What a user asked for, from Discord or the command line (no Discord objects)."""

    prompt: str  # full prompt text, never truncated
    backend: str = "styles"  # backend name
    duration_s: float | None = None  # length option, seconds; None: from the prompt or the default
    seed: int = 0  # explicit seed: the same request makes the same audio
    bpm: float | None = None  # tempo option; wins over the prompt
    key: str | None = None  # key option ("A minor"); wins over the prompt
    instruments: str | None = None  # instruments option (notes backend): "fiddle, guitar, bass"
    user_id: int = 0  # requester (0 on the command line)
    user_name: str = ""  # requester's display name, for summaries
    guild_id: int | None = None  # where it was asked (None in DMs and the CLI)
    channel_id: int | None = None  # where to deliver if the interaction token has expired
    upload_limit_bytes: int = 10 * 1024 * 1024  # the guild's filesize_limit
    action: Action = "create"  # how this request came to be
    parent_job_id: str | None = None  # the job a button click derived this from

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> MusicRequest:
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def derive(self, **changes: Any) -> MusicRequest:
        return replace(self, **changes)


@dataclass(frozen=True)
class DiscordDelivery:
    """How to reach the user again: the interaction's webhook while its token lives."""

    application_id: int  # the bot's application id (webhook id of interaction followups)
    interaction_token: str  # the interaction's token (secret-ish: never logged)
    token_expires_at: float  # unix time after which the webhook no longer works
    channel_id: int | None = None  # fallback: post here, mentioning the requester


@dataclass(frozen=True)
class MusicResult:
    """A finished job's output: files on disk plus what to say about them."""

    job_id: str
    title: str  # short title ("Melancholic lo-fi piano")
    mp3_path: str  # the MP3, fitted to the upload limit
    mp3_filename: str  # the attachment name users see, from the prompt
    preview_path: str | None  # spectrogram PNG
    midi_path: str | None  # .mid when the backend wrote notes
    duration_s: float  # duration of the uploaded MP3
    bitrate_kbps: int
    seed: int
    backend: str
    tempo_bpm: float | None = None
    key: str | None = None
    time_signature: str | None = None
    tags: tuple[str, ...] = ()
    summary: tuple[str, ...] = ()  # what the backend understood, one line each
    notes: tuple[str, ...] = ()  # warnings: shortened to fit, repairs, …
    render_seconds: float = 0.0  # wall time spent generating

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> MusicResult:
        data = json.loads(text)
        data["tags"] = tuple(data.get("tags", ()))
        data["summary"] = tuple(data.get("summary", ()))
        data["notes"] = tuple(data.get("notes", ()))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


EventKind = Literal["queued", "started", "progress", "done", "failed", "cancelled"]


@dataclass(frozen=True)
class JobEvent:
    """One thing that happened to a job, streamed to whoever shows progress."""

    job_id: str
    kind: EventKind
    stage: str = ""  # "composing", "rendering", "encoding" …
    step: int = 0
    total: int = 0
    position: int | None = None  # place in the queue (1 = next) while queued
    eta_s: float | None = None  # rough seconds until done
    message: str = ""  # failure reason (user-safe) or note
    error_id: str | None = None  # set for unexpected failures, matches the log line


@dataclass
class JobRecord:
    """A job as stored: the request, its state, and where its result lies."""

    job_id: str
    request: MusicRequest
    state: JobState
    created_at: float
    delivery: DiscordDelivery | None = None
    started_at: float | None = None
    finished_at: float | None = None
    result: MusicResult | None = None
    error: str | None = None  # user-safe failure reason
    error_id: str | None = None
    delivered: bool = False
    attempts: int = 0  # times a worker started it (restarts resume it)
    extra: dict[str, Any] = field(default_factory=dict)
