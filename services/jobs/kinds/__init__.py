"""Job kinds: what a job starts from decides which one handler makes its music.

text: the prompt through the backend's entry point · image: a picture described, sonified or drawn
from · audio: the user's audio restyled · jam: a prompt jam's segments joined · song: words sung, or a
cover, repaint, continuation or stems of a song. Each handler returns a
Piece; services/jobs/finish.py turns every Piece into files the same way.
"""

from __future__ import annotations

from typing import Protocol

from services.backends.base import ProgressFn
from services.jobs.kinds import audio, image, jam, song, text
from services.jobs.kinds.piece import Piece
from services.jobs.models import JobKind, MusicRequest
from services.settings import Settings


class Handler(Protocol):
    def __call__(self, request: MusicRequest, settings: Settings, progress: ProgressFn) -> Piece:
        """Blocking: make the music of one job of this kind."""
        ...


HANDLERS: dict[JobKind, Handler] = {
    JobKind.TEXT: text.make,
    JobKind.IMAGE: image.make,
    JobKind.AUDIO: audio.make,
    JobKind.JAM: jam.make,
    JobKind.SONG: song.make,
}
