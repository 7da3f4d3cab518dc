"""The worker side of a jam render: segments in the jam's tempo and key, joined, credited.

run_job hands a request carrying a JamPlan here. Each segment is rendered by the
jam's backend at the jam's bpm and key, cut on a bar line, and cached on disk, so
only prompts added since the last play cost anything. The segments are evened out in
loudness, joined with crossfades, and written like any result: one MP3 that fits the
upload limit, a timeline picture as the preview, and credits lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from services.audio.edit import DECLICK_S, concat_crossfade, fade, fit_length, resample
from services.audio.loudness import normalize_loudness
from services.audio.types import Audio
from services.backends.base import Backend, GenerationRequest, ProgressFn
from services.backends.registry import get_backend
from services.errors import UserError
from services.jams.cache import jam_dir, load_segment, save_segment, segment_key
from services.jams.timeline import TimelineSegment, render_timeline
from services.jams.timing import clock, effective_crossfade_s, segment_spans
from services.jobs.models import JamPlan, JamSegment, MusicRequest, MusicResult
from services.jobs.work import fit_mp3_and_picture, mp3_filename
from services.settings import Settings

_CREDIT_PROMPT_CHARS = 80  # a credits line quotes at most this much of a prompt


@dataclass(frozen=True)
class RenderedSegments:
    """The segments' audio in jam order, and how many had to be rendered now."""

    parts: tuple[Audio, ...]  # exactly one segment length each, same sample rate, stereo
    rendered: int  # made now by the backend
    reused: int  # read back from the cache


def render_jam(job_id: str, request: MusicRequest, settings: Settings, progress: ProgressFn) -> MusicResult:
    """Render the jam in `request.jam` and write MP3 and timeline PNG under the results folder."""
    plan = request.jam
    if plan is None:
        raise ValueError("render_jam needs a request with a jam plan")
    if not plan.segments:
        raise UserError("This jam has no prompts to play yet.")
    started = time.perf_counter()
    steps = len(plan.segments) + 2
    backend = get_backend(request.backend, settings)
    segments = render_segments(plan, request.backend, backend, settings, progress, steps=steps)

    progress("mixing the jam", len(plan.segments), steps)
    audio = join_segments(segments.parts, plan, target_lufs=settings.target_lufs)
    bridges = 0
    transition = getattr(backend, "transition", None)
    if callable(transition) and len(plan.segments) > 1:
        progress("interpolating between prompts", len(plan.segments), steps)
        audio = bridge_seams(audio, plan, request.backend, transition, settings)
        bridges = len(plan.segments) - 1
    spans = segment_spans(len(plan.segments), plan.segment_s, plan.crossfade_s)
    credits = credit_lines(plan, spans)
    title = f"Prompt jam: {plan.theme}" if plan.theme else "Prompt jam"
    picture = render_timeline(
        audio,
        [
            TimelineSegment(start, end, seg.author_id, f"#{i + 1} {seg.author_name}")
            for i, (seg, (start, end)) in enumerate(zip(plan.segments, spans, strict=True))
        ],
        title=f"{title} · {plan.bpm:g} bpm · {plan.key}",
    )

    progress("encoding MP3", len(plan.segments) + 1, steps)
    out_dir = settings.results_dir / job_id
    out_dir.mkdir(parents=True, exist_ok=True)
    fitted, picture_kept = fit_mp3_and_picture(audio, request, settings, title, picture)
    mp3_path = out_dir / "audio.mp3"
    mp3_path.write_bytes(fitted.data)
    preview_path = None
    if picture_kept is not None:
        preview_path = out_dir / "timeline.png"
        preview_path.write_bytes(picture_kept)
    progress("encoding MP3", steps, steps)

    authors = len({seg.author_id for seg in plan.segments})
    summary = (
        f"{len(plan.segments)} prompt{'s' if len(plan.segments) != 1 else ''} by {authors} "
        f"contributor{'s' if authors != 1 else ''}, {plan.bars} bars each at {plan.bpm:g} bpm in {plan.key}",
        f"{segments.rendered} segment{'s' if segments.rendered != 1 else ''} rendered now, "
        f"{segments.reused} reused from earlier plays",
    ) + (
        (f"{bridges} seam{'s' if bridges != 1 else ''} bridged by riffusion's interpolation between prompts",)
        if bridges
        else ()
    )
    notes = [fitted.note] if fitted.note else []
    return MusicResult(
        job_id=job_id,
        title=title + (" (final)" if plan.final else ""),
        mp3_path=str(mp3_path),
        mp3_filename=mp3_filename(f"jam {plan.theme}".strip()),
        preview_path=str(preview_path) if preview_path else None,
        midi_path=None,
        duration_s=fitted.duration_s,
        bitrate_kbps=fitted.bitrate_kbps,
        seed=request.seed,
        backend=request.backend,
        tempo_bpm=plan.bpm,
        key=plan.key,
        time_signature=f"{plan.beats_per_bar}/4",
        summary=summary,
        notes=tuple(notes),
        render_seconds=time.perf_counter() - started,
        credits=credits,
    )


def render_segments(
    plan: JamPlan,
    backend_name: str,
    backend: Backend,
    settings: Settings,
    progress: ProgressFn,
    *,
    steps: int,
) -> RenderedSegments:
    """Every segment at exactly the segment length, from the cache where it is already there."""
    folder = jam_dir(settings.data_dir, plan.jam_id)
    parts: list[Audio] = []
    rendered = 0
    for index, seg in enumerate(plan.segments):
        progress(f"segment {index + 1} of {len(plan.segments)}", index, steps)
        path = folder / f"{_segment_name(plan, seg, backend_name)}.wav"
        audio = load_segment(path)
        if audio is None or abs(audio.duration - plan.segment_s) > 1.0 / audio.sample_rate:
            audio = render_segment(plan, seg, backend, settings)
            save_segment(path, audio)
            rendered += 1
        parts.append(audio)
    rate = parts[0].sample_rate
    same_rate = tuple(p if p.sample_rate == rate else resample(p, rate) for p in parts)
    return RenderedSegments(same_rate, rendered=rendered, reused=len(parts) - rendered)


def _segment_name(plan: JamPlan, seg: JamSegment, backend_name: str) -> str:
    return segment_key(
        prompt=seg.prompt,
        seed=seg.seed,
        bpm=plan.bpm,
        key=plan.key,
        bars=plan.bars,
        beats_per_bar=plan.beats_per_bar,
        backend=backend_name,
    )


def render_segment(plan: JamPlan, seg: JamSegment, backend: Backend, settings: Settings) -> Audio:
    """One prompt at the jam's tempo and key, cut on the bar line that ends the segment."""
    length = plan.segment_s
    generation = backend.generate(
        GenerationRequest(
            prompt=seg.prompt,
            duration_s=length,
            seed=seg.seed,
            bpm=plan.bpm,
            key=plan.key,
            default_duration_s=length,
            max_duration_s=max(length, float(settings.max_duration_s)),
        ),
        _quiet,
    )
    # A segment's ring-out past its last bar line is cut: the next segment's crossfade covers the seam.
    return fit_length(generation.audio.to_stereo(), length, fade_out_s=DECLICK_S)


def _quiet(stage: str, step: int, total: int) -> None:
    """Segments report as a whole (one step each), not their backend's inner stages."""


def join_segments(parts: tuple[Audio, ...], plan: JamPlan, *, target_lufs: float) -> Audio:
    """Each part to the same loudness (so no contributor drowns another), crossfaded, mastered."""
    levelled = [normalize_loudness(part, target_lufs=target_lufs) for part in parts]
    joined = concat_crossfade(levelled, effective_crossfade_s(plan.segment_s, plan.crossfade_s))
    ending = fade(joined, DECLICK_S, min(1.0, plan.segment_s / 4))
    return normalize_loudness(ending, target_lufs=target_lufs)


def bridge_seams(
    audio: Audio, plan: JamPlan, backend_name: str, transition: Callable[..., Audio], settings: Settings
) -> Audio:
    """Lay a window interpolated halfway between each pair of consecutive prompts over their seam.

    riffusion's interpolation morphs one prompt into the next instead of only fading: the bridge (cached
    like segments) is blended in with a smooth bump centred on the crossfade, so timing is unchanged.
    """
    folder = jam_dir(settings.data_dir, plan.jam_id)
    fade_s = effective_crossfade_s(plan.segment_s, plan.crossfade_s)
    step = plan.segment_s - fade_s
    out = audio.samples.copy()
    rate = audio.sample_rate
    for k in range(len(plan.segments) - 1):
        a, b = plan.segments[k], plan.segments[k + 1]
        name = f"bridge-{_segment_name(plan, a, backend_name)}-{_segment_name(plan, b, backend_name)}"
        path = folder / f"{name[:200]}.wav"
        bridge = load_segment(path)
        if bridge is None:
            bridge = transition(
                (a.prompt, a.seed), (b.prompt, b.seed), bpm=plan.bpm, time_signature=(plan.beats_per_bar, 4)
            ).to_stereo()
            save_segment(path, bridge)
        if bridge.sample_rate != rate:
            bridge = resample(bridge, rate)
        bridge = normalize_loudness(bridge.to_stereo(), target_lufs=settings.target_lufs)
        width = min(bridge.frames, int(0.8 * plan.segment_s * rate))
        centre = int(((k + 1) * step + fade_s / 2) * rate)
        start = max(0, centre - width // 2)
        end = min(out.shape[1], start + width)
        if end - start < 2:
            continue
        bump = np.hanning(end - start).astype(np.float32)
        out[:, start:end] = out[:, start:end] * (1.0 - bump) + bridge.samples[:2, : end - start] * bump
    return normalize_loudness(Audio(out, rate), target_lufs=settings.target_lufs)


def credit_lines(plan: JamPlan, spans: list[tuple[float, float]]) -> tuple[str, ...]:
    """'0:00–0:04 @alice — 'sunrise flute'' per segment: display names only, never a mention."""
    lines = []
    for seg, (start, end) in zip(plan.segments, spans, strict=True):
        prompt = " ".join(seg.prompt.split())
        if len(prompt) > _CREDIT_PROMPT_CHARS:
            prompt = prompt[: _CREDIT_PROMPT_CHARS - 1].rstrip() + "…"
        lines.append(f"{clock(start)}–{clock(end)} @{seg.author_name} — '{prompt}'")
    return tuple(lines)
