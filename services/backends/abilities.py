"""What a backend can do besides its one entry point: declared in its record, called through a Protocol.

Why both: the record's `abilities` is what the rest of the bot reads without building a backend (the
policy, autocomplete, delivery, the job kinds); the Protocol is the typed call, so a job kind never
probes a backend with `getattr`. `tests/test_backend_records.py` checks that every record's abilities
and its backend's methods agree.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from services.audio.types import Audio
from services.backends.base import Generation, GenerationRequest, ProgressFn, SongRequest

if TYPE_CHECKING:
    from PIL import Image


class Ability(enum.StrEnum):
    """Something a backend can start from, or make, that not every backend can."""

    TEXT = "text"  # starts from words alone (a text job, a jam segment, a described picture)
    IMAGE_IN = "image"  # img2img: draws from the user's picture (DrawsFromImage)
    AUDIO_IN = "audio"  # restyles the user's own audio (RestylesAudio)
    EXTEND = "extend"  # continues where one of its pieces ended (GenerationRequest.continue_from)
    TRANSITION = "transition"  # bridges a jam's seams between two prompts (BridgesSeams)
    MIDI_OUT = "midi"  # the notes are the result: its .mid rides along with the MP3, not behind a button
    LYRICS = "lyrics"  # sings words it is given; song jobs (cover, repaint, stems…) go only here (Sings)
    CONTINUES_AUDIO = "continues-audio"  # Extend continues the piece's own audio (ContinuesAudio)
    RUNS_MODEL_CODE = "runs-code"  # runs code a model wrote (sandboxed): off per server until admins allow it


@runtime_checkable
class RestylesAudio(Protocol):
    """Ability.AUDIO_IN: the user's file (its bytes and decoder format) is the seed the prompt restyles."""

    def generate_from_audio(
        self, request: GenerationRequest, audio_bytes: bytes, fmt: str, progress: ProgressFn
    ) -> Generation: ...


@runtime_checkable
class ContinuesAudio(Protocol):
    """Ability.CONTINUES_AUDIO: Extend hands the piece's own MP3 back, to be continued to the request's
    length and returned whole."""

    def continue_audio(
        self, request: GenerationRequest, audio_bytes: bytes, fmt: str, progress: ProgressFn
    ) -> Generation: ...


@runtime_checkable
class Sings(Protocol):
    """Ability.LYRICS: a song job — words sung to a prompt, or a task on `source` (the user's upload or an
    earlier song: cover, repaint, stems, extend)."""

    def sing(
        self, request: GenerationRequest, song: SongRequest, source: Audio | None, progress: ProgressFn
    ) -> Generation: ...


@runtime_checkable
class DrawsFromImage(Protocol):
    """Ability.IMAGE_IN: a user's picture is the seed the prompt restyles."""

    def generate_from_image(
        self, request: GenerationRequest, picture: Image.Image, progress: ProgressFn
    ) -> Generation: ...


@runtime_checkable
class BridgesSeams(Protocol):
    """Ability.TRANSITION: music morphing from one (prompt, seed) to the next, laid over a jam's seam."""

    def transition(
        self,
        before: tuple[str, int],
        after: tuple[str, int],
        *,
        bpm: float,
        time_signature: tuple[int, int] = (4, 4),
    ) -> Audio: ...


@runtime_checkable
class MakesTakes(Protocol):
    """Not an ability users see: several takes of one request on the given seeds, in one batched pipeline
    call (services/jobs/kinds/takes.best_take keeps the one heard closest to what was asked)."""

    def generate_takes(
        self, request: GenerationRequest, seeds: list[int], progress: ProgressFn
    ) -> list[Generation]: ...


@runtime_checkable
class SingsTakes(Protocol):
    """Not an ability users see: several takes of one sung song on the given seeds, in one batched call
    (services/jobs/kinds/song.py keeps the one heard closest to the stated tempo and key)."""

    def sing_takes(
        self, request: GenerationRequest, song: SongRequest, seeds: list[int], progress: ProgressFn
    ) -> list[Generation]: ...


@runtime_checkable
class Warms(Protocol):
    """Not an ability users see: a backend that loads its models at worker start, so first jobs are fast."""

    def warm(self) -> None: ...
