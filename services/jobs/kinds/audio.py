"""An audio job: the user's file, staged under the job's input folder, restyled by the prompt.

Only backends whose record has Ability.AUDIO_IN get here (the policy refuses the rest at admission);
they are called through the RestylesAudio Protocol. An Extend of a backend that continues its own audio
(Ability.CONTINUES_AUDIO) comes here too, with the piece's MP3 as the file: it is continued, not restyled.
"""

from __future__ import annotations

from pathlib import Path

from services.audio.decoding import format_from_name
from services.backends.abilities import Ability, ContinuesAudio, RestylesAudio
from services.backends.base import ProgressFn
from services.backends.registry import backends_taking, get_backend, has_ability
from services.errors import UserError
from services.jobs.kinds.piece import Piece, generation_request
from services.jobs.models import MusicRequest
from services.settings import Settings


def make(request: MusicRequest, settings: Settings, progress: ProgressFn) -> Piece:
    if not has_ability(request.backend, Ability.AUDIO_IN):
        takers = ", ".join(f"backend:{name}" for name in backends_taking(Ability.AUDIO_IN))
        raise UserError(f"The {request.backend} backend can't start from audio; use {takers or 'another'}.")
    if not request.input_path:
        raise UserError("There is no audio attached to this request.")
    backend = get_backend(request.backend, settings)
    fmt = format_from_name(request.input_name or "")
    if request.action == "extend" and has_ability(request.backend, Ability.CONTINUES_AUDIO):
        if not isinstance(backend, ContinuesAudio):  # the record promised it: a bug
            raise TypeError(f"the {request.backend} backend's record says it continues audio; it cannot")
        data = _read(request.input_path)
        generation = backend.continue_audio(generation_request(request, settings), data, fmt, progress)
        return Piece.of(generation, name=request.prompt)
    if not isinstance(backend, RestylesAudio):  # the record promised it: a bug, not the user's doing
        raise TypeError(f"the {request.backend} backend's record says it takes audio; it cannot")
    data = _read(request.input_path)
    generation = backend.generate_from_audio(generation_request(request, settings), data, fmt, progress)
    return Piece.of(generation, name=request.prompt)


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise UserError("The audio this builds on is no longer stored here; make a new one.") from None
