"""An audio job: the user's file, staged under the job's input folder, restyled by the prompt.

Only backends whose record has Ability.AUDIO_IN get here (the policy refuses the rest at admission);
they are called through the RestylesAudio Protocol.
"""

from __future__ import annotations

from pathlib import Path

from services.audio.decoding import format_from_name
from services.backends.abilities import Ability, RestylesAudio
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
    if not isinstance(backend, RestylesAudio):  # the record promised it: a bug, not the user's doing
        raise TypeError(f"the {request.backend} backend's record says it takes audio; it cannot")
    fmt = format_from_name(request.input_name or "")
    data = Path(request.input_path).read_bytes()
    generation = backend.generate_from_audio(generation_request(request, settings), data, fmt, progress)
    return Piece.of(generation, name=request.prompt)
