"""Plain data that crosses the job seam: requests in, events and results out.

Everything here is JSON-serialisable so it can sit in SQLite today and travel
through a broker to remote workers later without change.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import TypeAdapter

from services.backends.base import SongRequest
from services.errors import render_message
from services.heard.types import Heard

Action = Literal["create", "reroll", "extend", "variation"]
# Who asked: a Discord user (per-server rules apply) or the operator at the command line (they don't).
Origin = Literal["discord", "cli"]

# Discord lets an interaction token be used for 15 minutes.
INTERACTION_TOKEN_LIFETIME_S = 15 * 60


class JobKind(enum.StrEnum):
    """What a job starts from; each kind has one handler (services/jobs/kinds/) and one finishing step."""

    TEXT = "text"  # a prompt (and options): the backend's own entry point
    IMAGE = "image"  # a picture: described, sonified, or drawn from (img2img)
    AUDIO = "audio"  # the user's audio, restyled by the prompt
    JAM = "jam"  # a prompt jam: segments in one tempo and key, joined
    SONG = "song"  # a song (lyrics, bpm, key, metre) sung, or one of its tasks on a song or an upload


class JobState(enum.StrEnum):
    FETCHING = "fetching"  # accepted and recorded; its attachment is being downloaded, then it is queued
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class JamSegment:
    """One contribution of a prompt jam, as a jam render needs it (jam addition, see services/jams)."""

    contribution_id: int  # the contribution's id in the jams table
    prompt: str  # the contributor's prompt, full text
    seed: int  # fixed when the prompt was added: the same segment renders the same way every time
    author_id: int  # contributor's user id (never rendered as a mention)
    author_name: str  # contributor's display name, for the credits


@dataclass(frozen=True)
class JamPlan:
    """What a jam render makes: segments in order, all in one tempo and key (jam addition)."""

    jam_id: str  # the jam's id; rendered segments are cached under DATA_DIR/jams/<jam_id>/
    theme: str  # the jam's theme ("" when none), for the title
    bpm: float  # every segment is rendered at this tempo
    key: str  # ... and in this key ("A minor")
    bars: int  # bars per segment: each segment is cut on a bar line
    beats_per_bar: int  # beats in a bar (the jam's metre is beats_per_bar/4)
    crossfade_beats: float  # length of each seam's crossfade, in beats
    segments: tuple[JamSegment, ...]  # active contributions in jam order
    final: bool = False  # True for the render made when the jam ended

    @property
    def segment_s(self) -> float:
        """Seconds per segment: bars x beats per bar x 60 / bpm."""
        return self.bars * self.beats_per_bar * 60.0 / self.bpm

    @property
    def crossfade_s(self) -> float:
        return self.crossfade_beats * 60.0 / self.bpm


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
    input_path: str | None = None  # a user's attachment, saved under DATA_DIR/inputs/<job>/ (never in the DB)
    input_url: str | None = None  # where that attachment is fetched from (a vetted Discord media URL)
    input_name: str | None = None  # the attachment's file name, for messages only (never trusted)
    input_kind: Literal["image", "audio"] | None = None  # what the attachment is meant to be
    image_mode: Literal["describe", "sonify", "img2img"] | None = None  # how a picture becomes music
    continue_from: tuple[str, int] | None = None  # Extend: (prompt, seed) the previous piece ended on
    user_id: int = 0  # requester (0 on the command line)
    user_name: str = ""  # requester's display name, for summaries
    guild_id: int | None = None  # where it was asked (None in DMs and the CLI)
    channel_id: int | None = None  # where to deliver if the interaction token has expired
    upload_limit_bytes: int = 10 * 1024 * 1024  # the guild's filesize_limit
    action: Action = "create"  # how this request came to be
    parent_job_id: str | None = None  # the job a button click derived this from
    jam: JamPlan | None = None  # jam addition: set, the worker renders this jam (services/jobs/kinds/jam.py)
    origin: Origin = "discord"  # "cli": the operator, to whom per-server rules do not apply
    song: SongRequest | None = None  # set for song jobs (lyrics, metre, cover, repaint, stems, extend)

    @property
    def kind(self) -> JobKind:
        """Derived from the fields, so rows stored by earlier releases read back as the kind they were."""
        if self.jam is not None:
            return JobKind.JAM
        if self.song is not None:
            return JobKind.SONG
        if self.input_kind == "image":
            return JobKind.IMAGE
        if self.input_kind == "audio":
            return JobKind.AUDIO
        return JobKind.TEXT

    @property
    def needs_input(self) -> bool:
        """An attachment still to download before the job can run."""
        return self.input_url is not None and self.input_path is None

    def to_json(self) -> str:
        return _REQUEST_JSON.dump_json(self).decode()

    @classmethod
    def from_json(cls, text: str) -> MusicRequest:
        """Rows of earlier releases read back too: unknown keys are ignored, missing ones take defaults."""
        return _REQUEST_JSON.validate_json(text)

    def derive(self, **changes: Any) -> MusicRequest:
        return replace(self, **changes)


@dataclass(frozen=True)
class DiscordDelivery:
    """How to reach the user again: the interaction's webhook while its token lives."""

    application_id: int  # the bot's application id (webhook id of interaction followups)
    interaction_token: str = field(repr=False)  # the interaction's token: a credential, never in repr/logs
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
    attachments: tuple[str, ...] = ()  # extra files to attach (paths under the job's results folder)
    continue_from: tuple[str, int] | None = None  # where a continuation (Extend) of this piece starts
    credits: tuple[str, ...] = ()  # jam addition: "0:00–0:04 @alice — 'sunrise flute'", one line each
    lyrics: str | None = None  # a song's words as sung (the user's, or the LLM's), for the reply
    stems: tuple[tuple[str, str], ...] = ()  # (stem name, MP3 path) of a Stems job, in STEMS order
    stems_together: bool = True  # False: the stems did not fit one message; they are sent one by one
    heard: Heard | None = None  # what the finished audio was measured to be (services/heard)
    heard_lines: tuple[str, ...] = ()  # asked → heard, one line each ("tempo 92 bpm → heard 92 ✓")

    def to_json(self) -> str:
        return _RESULT_JSON.dump_json(self).decode()

    @classmethod
    def from_json(cls, text: str) -> MusicResult:
        return _RESULT_JSON.validate_json(text)


# pydantic reads and writes the job seam's JSON (SQLite rows, worker pipes, later a broker): nested
# plans, tuples and literals come back typed, and a malformed row fails loudly instead of half-loading.
_REQUEST_JSON: TypeAdapter[MusicRequest] = TypeAdapter(MusicRequest)
_RESULT_JSON: TypeAdapter[MusicResult] = TypeAdapter(MusicResult)


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
    error: str | None = None  # user-safe failure reason: our text, `{placeholders}` for error_values
    error_values: dict[str, str] = field(default_factory=dict)  # what filled them (untrusted: escape to show)
    error_id: str | None = None
    delivered: bool = False
    delivery_error: str | None = None  # why the outcome could never be posted (then delivered is True too)
    attempts: int = 0  # times a worker started it (restarts resume it)
    extra: dict[str, Any] = field(default_factory=dict)

    def error_text(self) -> str | None:
        """The failure reason as plain text (the command line, logs)."""
        return render_message(self.error, self.error_values) if self.error else None
