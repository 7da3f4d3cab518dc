"""A text job: the prompt (and its options) through the backend's one entry point.

Model backends land a stated tempo or key only roughly. With HEARD_CANDIDATES above 1 and a tempo or key
stated, such a job makes that many candidates at once (consecutive seeds, submitted together so the
backend's batcher runs them in one pipeline call), measures each, and keeps the one that best matches what
was asked; its seed is the result's, so the seed shown makes that piece again.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from services.backends.abilities import MakesTakes
from services.backends.base import Backend, Generation, GenerationRequest, ProgressFn, no_progress
from services.backends.record import Lane
from services.backends.registry import get_backend, lane_of
from services.heard.types import Heard
from services.jobs.kinds.piece import Piece, generation_request
from services.jobs.models import MusicRequest
from services.settings import Settings

MAX_SEED = 2**31 - 1


def make(request: MusicRequest, settings: Settings, progress: ProgressFn) -> Piece:
    backend = get_backend(request.backend, settings)
    asked = generation_request(request, settings)
    count = settings.heard_candidates
    if count > 1 and lane_of(request.backend) is Lane.MODEL and _states_tempo_or_key(asked):
        return best_of(backend, asked, count, progress, name=request.prompt)
    generation = backend.generate(asked, progress)
    return Piece.of(generation, name=request.prompt)


def best_of(
    backend: Backend, asked: GenerationRequest, count: int, progress: ProgressFn, *, name: str
) -> Piece:
    """`count` candidates on seeds asked.seed, +1, …, the best match of what they say they aimed for."""
    from services.heard.measure import measure  # numpy/scipy: the worker's, never the bot's start-up

    seeds = [(asked.seed + i) % MAX_SEED for i in range(count)]

    def one(index: int) -> Generation:
        # only the first reports progress (and carries a cancel): all share the same denoising steps
        return backend.generate(replace(asked, seed=seeds[index]), progress if index == 0 else no_progress)

    if isinstance(backend, MakesTakes):
        made = list(backend.generate_takes(asked, seeds, progress))
    else:  # submitted together, so the backend's batcher may still group them
        with ThreadPoolExecutor(max_workers=count, thread_name_prefix="candidate") as pool:
            made = list(pool.map(one, range(count)))
    progress("choosing the best take", 0, 1)
    scored = [(candidate_score(g, measure(g.audio, stated_bpm=g.tempo_bpm)), i) for i, g in enumerate(made)]
    score, best = min(scored)
    piece = Piece.of(made[best], name=name)
    piece.seed = seeds[best]
    piece.summary.insert(
        0, f"best of {count} takes (seeds {seeds[0]}–{seeds[-1]}): seed {seeds[best]} matched best"
    )
    return piece


def candidate_score(generation: Generation, heard: Heard) -> float:
    """Lower is better: the tempo's relative miss (a missing pulse counts as 100%) plus 1 for a key miss."""
    from services.heard.report import key_heard

    score = 0.0
    tempo = generation.tempo_bpm
    heard_tempo = heard.tempo_bpm
    if tempo is not None:
        score += abs(heard_tempo - tempo) / tempo if heard_tempo is not None else 1.0
    if generation.key is not None and not key_heard(heard, generation.key):
        score += 1.0
    return score


def _states_tempo_or_key(asked: GenerationRequest) -> bool:
    if asked.bpm is not None or asked.key is not None:
        return True
    from services.prompting.interpreter import interpret

    explicit = interpret(asked.prompt, embedder=None).explicit
    return "tempo" in explicit or "key" in explicit
