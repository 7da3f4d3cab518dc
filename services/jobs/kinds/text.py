"""A text job: the prompt (and its options) through the backend's one entry point."""

from __future__ import annotations

from services.backends.base import ProgressFn
from services.backends.registry import get_backend
from services.jobs.kinds.piece import Piece, generation_request
from services.jobs.models import MusicRequest
from services.settings import Settings


def make(request: MusicRequest, settings: Settings, progress: ProgressFn) -> Piece:
    backend = get_backend(request.backend, settings)
    generation = backend.generate(generation_request(request, settings), progress)
    return Piece.of(generation, name=request.prompt)
