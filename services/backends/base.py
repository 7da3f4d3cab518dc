"""What every backend is: one entry point, an honest availability answer, progress.

Backends run inside a worker (thread or process), never on the event loop, so
`generate` is a plain blocking call. It reports progress through a callback and
checks `progress` for cancellation by letting the callback raise `Cancelled`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal, Protocol

from services.audio.types import Audio


class Cancelled(Exception):
    """Raised inside a backend (through the progress callback) when its job was cancelled."""


class BackendUnavailable(Exception):
    """The backend cannot run here; the message tells a user how to fix it."""


class ProgressFn(Protocol):
    def __call__(self, stage: str, step: int, total: int) -> None:
        """Report `step` of `total` in `stage` ("composing", "rendering", "denoising" …)."""


def no_progress(stage: str, step: int, total: int) -> None:
    """A progress callback for callers that do not watch."""


@dataclass(frozen=True)
class Availability:
    """A backend's own answer to "can you run here?", from cheap checks only (no model load)."""

    available: bool
    reason: str  # "ready (…)" or what is missing and how to fix it, in words a user can act on


@dataclass(frozen=True)
class BackendStatus:
    """Whether a backend can run here, and if not, why in words a user can act on."""

    name: str  # backend name as typed in /music create backend:<name>
    available: bool
    reason: str  # "ready" or what is missing and how to fix it
    description: str = ""  # one line: what this backend does (from its record)


@dataclass(frozen=True)
class GenerationRequest:
    """The plain-data part of a music request a backend needs."""

    prompt: str  # what the user typed (full text, never truncated)
    duration_s: float | None  # length from the command's option; None: the prompt's, else the default
    seed: int  # explicit, so a re-run makes the same audio
    bpm: float | None = None  # explicit tempo from the command's option; wins over the prompt
    key: str | None = None  # explicit key from the command's option ("A minor"); wins over the prompt
    default_duration_s: float = 20.0  # length when neither the option nor the prompt gives one
    max_duration_s: float = 120.0  # longest allowed; longer asks are clamped with a note
    instruments: str | None = None  # instruments option ("fiddle, guitar, bass"); wins over the prompt
    continue_from: tuple[str, int] | None = None  # Extend: start where a previous piece ended (prompt, seed)


SongTask = Literal["sing", "cover", "repaint", "stems", "extend"]
STEMS = ("vocals", "drums", "bass", "other")  # what the Stems button splits a song into


@dataclass(frozen=True)
class SongRequest:
    """What a song job asks beyond a MusicRequest (the song backend: ACE-Step). `sing` makes a song from
    words; the other tasks work on the audio in MusicRequest.input_path (an upload, or an earlier song)."""

    task: SongTask = "sing"
    lyrics: str | None = None  # None: written by the LLM when one is configured; "": an instrumental
    language: str = "en"  # the lyrics' language (ISO 639-1 code)
    beats_per_bar: int | None = None  # metre (ACE-Step's "timesignature": 2, 3, 4 or 6); None: the model's
    cover_strength: float | None = None  # cover: how closely the upload's structure is kept (0–1)
    repaint_start_s: float | None = None  # repaint: the part to sing again, in seconds from the start
    repaint_end_s: float | None = None
    extend_s: float | None = None  # extend: seconds of new music after the song's end
    lyrics_written_by: str | None = None  # set on results' requests when the LLM wrote the lyrics


@dataclass
class Generation:
    """What a backend made: audio plus what it understood, for the summary."""

    audio: Audio
    title: str  # short title for the file name and embed
    duration_s: float  # the intended length; the audio is cut (with a fade) or padded to it
    summary: list[str] = field(
        default_factory=list
    )  # "what I understood" lines, with the words that caused them
    tempo_bpm: float | None = None
    key: str | None = None
    time_signature: str | None = None
    tags: tuple[str, ...] = ()
    midi: bytes | None = None  # standard MIDI file, for backends that write notes
    preview_png: bytes | None = None  # the backend's own picture (input beside spectrogram, riffusion image)
    notes: list[str] = field(default_factory=list)  # warnings/repairs worth telling the user
    attachments: dict[str, bytes] = field(default_factory=dict)  # extra files for the reply ("song.py")
    continue_from: tuple[str, int] | None = None  # (prompt, seed) where a continuation should start
    lyrics: str | None = None  # a song's words as sung, for the reply
    stems: dict[str, Audio] = field(default_factory=dict)  # a Stems job's parts, in STEMS order


class Backend(Protocol):
    """The interface all backends implement. What a backend *is* (description, lane, abilities) is its
    record (services/backends/record.py); optional abilities are the Protocols in abilities.py."""

    name: ClassVar[str]

    def available(self) -> BackendStatus:
        """Cheap check (no model load) of whether this backend can run, and why not."""
        ...

    def generate(self, request: GenerationRequest, progress: ProgressFn) -> Generation:
        """Blocking: make the music. Raises BackendUnavailable, ValueError (bad request) or Cancelled."""
        ...
