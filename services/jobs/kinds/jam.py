"""A jam job: every prompt of the jam's plan in one tempo and key, joined, bridged, credited.

The parts live in services/jams/render.py (segments, cache, crossfades, bridges); this handler puts them
together into one Piece: the mastered mix, the timeline picture as its preview, and credits lines.
"""

from __future__ import annotations

from services.backends.abilities import Ability, BridgesSeams
from services.backends.base import ProgressFn
from services.backends.registry import get_backend, has_ability
from services.errors import UserError
from services.jams.render import bridge_seams, credit_lines, join_segments, render_segments
from services.jams.timeline import TimelineSegment, render_timeline
from services.jams.timing import segment_spans
from services.jobs.kinds.piece import Piece
from services.jobs.models import MusicRequest
from services.settings import Settings


def make(request: MusicRequest, settings: Settings, progress: ProgressFn) -> Piece:
    plan = request.jam
    if plan is None:
        raise ValueError("a jam job needs a request with a jam plan")
    if not plan.segments:
        raise UserError("This jam has no prompts to play yet.")
    steps = len(plan.segments) + 1
    backend = get_backend(request.backend, settings)
    segments = render_segments(plan, request.backend, backend, settings, progress, steps=steps)

    progress("mixing the jam", len(plan.segments), steps)
    audio = join_segments(segments.parts, plan, target_lufs=settings.target_lufs)
    bridges = 0
    if has_ability(request.backend, Ability.TRANSITION) and len(plan.segments) > 1:
        if not isinstance(backend, BridgesSeams):  # the record promised it: a bug, not the user's doing
            raise TypeError(f"the {request.backend} backend's record says it bridges seams; it cannot")
        progress("interpolating between prompts", len(plan.segments), steps)
        audio = bridge_seams(audio, plan, request.backend, backend, settings)
        bridges = len(plan.segments) - 1

    spans = segment_spans(len(plan.segments), plan.segment_s, plan.crossfade_s)
    title = f"Prompt jam: {plan.theme}" if plan.theme else "Prompt jam"
    picture = render_timeline(
        audio,
        [
            TimelineSegment(start, end, seg.author_id, f"#{i + 1} {seg.author_name}")
            for i, (seg, (start, end)) in enumerate(zip(plan.segments, spans, strict=True))
        ],
        title=f"{title} · {plan.bpm:g} bpm · {plan.key}",
    )
    authors = len({seg.author_id for seg in plan.segments})
    summary = [
        f"{len(plan.segments)} prompt{'s' if len(plan.segments) != 1 else ''} by {authors} "
        f"contributor{'s' if authors != 1 else ''}, {plan.bars} bars each at {plan.bpm:g} bpm in {plan.key}",
        f"{segments.rendered} segment{'s' if segments.rendered != 1 else ''} rendered now, "
        f"{segments.reused} reused from earlier plays",
    ]
    if segments.on_grid:
        summary.append(f"put on the {plan.bpm:g} bpm grid in {plan.key}: " + "; ".join(segments.on_grid))
    if bridges:
        summary.append(
            f"{bridges} seam{'s' if bridges != 1 else ''} bridged by {request.backend}'s "
            "interpolation between prompts"
        )
    return Piece(
        audio=audio,
        title=title + (" (final)" if plan.final else ""),
        name=f"jam {plan.theme}".strip(),
        length_s=audio.duration,
        mastered=True,  # every segment levelled alone (no contributor drowns another), then the whole
        summary=summary,
        tempo_bpm=plan.bpm,
        key=plan.key,
        time_signature=f"{plan.beats_per_bar}/4",
        picture=picture,
        credits=credit_lines(plan, spans),
    )
