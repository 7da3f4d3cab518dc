"""Best of several takes: model backends land a stated tempo or key only roughly, so with HEARD_CANDIDATES
above 1 and a tempo or key stated, a job makes that many takes at once (consecutive seeds, one batched
pipeline call where the backend can), measures each, and keeps the one heard closest to what was asked.
Its seed is the result's, so the seed shown makes that piece again. Used by the text and song kinds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from services.backends.base import Generation, GenerationRequest, ProgressFn
from services.heard.types import Heard
from services.jobs.kinds.piece import Piece

MAX_SEED = 2**31 - 1


def take_seeds(first: int, count: int) -> list[int]:
    """`count` consecutive seeds from `first` (wrapping inside the seed range)."""
    return [(first + i) % MAX_SEED for i in range(count)]


def best_take(
    make_takes: Callable[[list[int]], Sequence[Generation]],
    asked: GenerationRequest,
    count: int,
    progress: ProgressFn,
    *,
    name: str,
) -> Piece:
    """The best of `count` takes that `make_takes(seeds)` makes, on seeds asked.seed, +1, …"""
    from services.heard.measure import measure  # numpy/scipy: the worker's, never the bot's start-up

    seeds = take_seeds(asked.seed, count)
    made = list(make_takes(seeds))
    if len(made) != len(seeds):
        raise RuntimeError(f"asked for {len(seeds)} takes, the backend made {len(made)}")
    progress("choosing the best take", 0, 1)
    scored = [(candidate_score(g, measure(g.audio, stated_bpm=g.tempo_bpm)), i) for i, g in enumerate(made)]
    _, best = min(scored)
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
