"""A text job: the prompt (and its options) through the backend's one entry point; with HEARD_CANDIDATES
above 1 and a tempo or key stated, a model backend's best of that many takes (services/jobs/kinds/takes.py).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from services.backends.abilities import MakesTakes
from services.backends.base import Backend, Generation, GenerationRequest, ProgressFn, no_progress
from services.backends.record import Lane
from services.backends.registry import get_backend, lane_of
from services.jobs.kinds.piece import Piece, generation_request
from services.jobs.kinds.takes import best_take
from services.jobs.models import MusicRequest
from services.settings import Settings


def make(request: MusicRequest, settings: Settings, progress: ProgressFn) -> Piece:
    backend = get_backend(request.backend, settings)
    asked = generation_request(request, settings)
    count = settings.heard_candidates
    if count > 1 and lane_of(request.backend) is Lane.MODEL and states_tempo_or_key(asked):
        return best_of(backend, asked, count, progress, name=request.prompt)
    generation = backend.generate(asked, progress)
    return Piece.of(generation, name=request.prompt)


def best_of(
    backend: Backend, asked: GenerationRequest, count: int, progress: ProgressFn, *, name: str
) -> Piece:
    """`count` takes of `asked`, the best match of what they aimed for (services/jobs/kinds/takes.py)."""

    def takes(seeds: list[int]) -> list[Generation]:
        if isinstance(backend, MakesTakes):
            return list(backend.generate_takes(asked, seeds, progress))

        def one(index: int) -> Generation:
            # only the first reports progress (and carries a cancel): all share the same denoising steps
            return backend.generate(
                replace(asked, seed=seeds[index]), progress if index == 0 else no_progress
            )

        with ThreadPoolExecutor(max_workers=len(seeds), thread_name_prefix="candidate") as pool:
            return list(pool.map(one, range(len(seeds))))  # submitted together: the batcher may group them

    return best_take(takes, asked, count, progress, name=name)


def states_tempo_or_key(asked: GenerationRequest) -> bool:
    """Whether a tempo or key was asked for: by option, or in the prompt's words."""
    if asked.bpm is not None or asked.key is not None:
        return True
    from services.prompting.interpreter import interpret

    explicit = interpret(asked.prompt, embedder=None).explicit
    return "tempo" in explicit or "key" in explicit
