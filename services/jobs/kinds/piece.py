"""What every job kind hands the finishing step: the audio and what to say about it.

A Piece is a Generation (a backend's output) plus what only the job knows: the words its file is
named from, jam credits, whether the audio is mastered already.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.audio.types import Audio
from services.backends.abilities import Ability
from services.backends.base import Generation, GenerationRequest
from services.backends.registry import has_ability
from services.jobs.models import MusicRequest
from services.settings import Settings


@dataclass
class Piece:
    """One job's music before it becomes files (services/jobs/finish.py)."""

    audio: Audio
    title: str  # short title for the embed and the MP3's tags
    name: str  # the words the MP3's file name is made from ("rainy lo-fi piano", "jam dawn")
    length_s: float  # the intended length: the audio is cut (with a fade) or padded to it
    mastered: bool = False  # True: already at exactly length_s and levelled (a jam levels every segment)
    summary: list[str] = field(default_factory=list)  # "what I understood", one line each
    notes: list[str] = field(default_factory=list)  # warnings and repairs worth telling the user
    tempo_bpm: float | None = None
    key: str | None = None
    time_signature: str | None = None
    tags: tuple[str, ...] = ()
    midi: bytes | None = None  # standard MIDI file, for backends that write notes
    picture: bytes | None = None  # the preview; None: a spectrogram of the audio is drawn
    attachments: dict[str, bytes] = field(default_factory=dict)  # extra files ("song.py")
    continue_from: tuple[str, int] | None = None  # where a continuation (Extend) starts
    credits: tuple[str, ...] = ()  # jam credits, one line per segment
    seed: int | None = None  # the seed that made it, when not the request's (the best of several takes)
    lyrics: str | None = None  # a song's words as sung
    stems: dict[str, Audio] = field(default_factory=dict)  # a Stems job's parts (the reply carries each)

    @classmethod
    def of(cls, generation: Generation, *, name: str) -> Piece:
        """A backend's Generation as a piece named `name`."""
        return cls(
            audio=generation.audio,
            title=generation.title,
            name=name,
            length_s=generation.duration_s,
            summary=list(generation.summary),
            notes=list(generation.notes),
            tempo_bpm=generation.tempo_bpm,
            key=generation.key,
            time_signature=generation.time_signature,
            tags=tuple(generation.tags),
            midi=generation.midi,
            picture=generation.preview_png,
            attachments=dict(generation.attachments),
            continue_from=generation.continue_from,
            lyrics=generation.lyrics,
            stems=dict(generation.stems),
        )


def generation_request(request: MusicRequest, settings: Settings) -> GenerationRequest:
    """The backend's view of a request; a continuation point only reaches backends that can continue."""
    extends = request.continue_from is not None and has_ability(request.backend, Ability.EXTEND)
    return GenerationRequest(
        prompt=request.prompt,
        duration_s=request.duration_s,
        seed=request.seed,
        bpm=request.bpm,
        key=request.key,
        default_duration_s=float(settings.default_duration_s),
        max_duration_s=float(settings.max_duration_s),
        instruments=request.instruments,
        continue_from=request.continue_from if extends else None,
    )
