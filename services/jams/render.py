"""The parts of a jam render: segments in the jam's tempo and key, joined, bridged, credited.

The jam job kind (services/jobs/kinds/jam.py) puts these together. Each segment is rendered by
the jam's backend at the jam's bpm and key, put on the jam's grid where a model played it loosely
(services/jams/on_grid.py), cut on a bar line, and cached on disk, so only prompts added since the
last play cost anything. The segments are evened out in loudness and
joined with crossfades; a backend that can bridge seams (Ability.TRANSITION) lays a morph over each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.audio.edit import DECLICK_S, concat_crossfade, fade, fit_length, resample
from services.audio.loudness import normalize_loudness
from services.audio.types import Audio
from services.backends.abilities import BridgesSeams
from services.backends.base import Backend, GenerationRequest, ProgressFn
from services.backends.record import Lane
from services.backends.registry import lane_of
from services.heard.correct import MAX_STRETCH
from services.jams.cache import jam_dir, load_note, load_segment, save_note, save_segment, segment_key
from services.jams.on_grid import check_on_grid, put_on_grid
from services.jams.timing import clock, effective_crossfade_s
from services.jobs.models import JamPlan, JamSegment
from services.settings import Settings

_CREDIT_PROMPT_CHARS = 80  # a credits line quotes at most this much of a prompt


@dataclass(frozen=True)
class RenderedSegments:
    """The segments' audio in jam order, and how many had to be rendered now."""

    parts: tuple[Audio, ...]  # exactly one segment length each, same sample rate, stereo
    rendered: int  # made now by the backend
    reused: int  # read back from the cache
    on_grid: tuple[str, ...] = ()  # "segment 2: stretched from 116 bpm, …" for each segment put on the grid


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
    loose = lane_of(backend_name) is Lane.MODEL  # a model plays tempo and key loosely; a score exactly
    parts: list[Audio] = []
    notes: list[str] = []
    rendered = 0
    for index, seg in enumerate(plan.segments):
        progress(f"segment {index + 1} of {len(plan.segments)}", index, steps)
        path = folder / f"{_segment_name(plan, seg, backend_name)}.wav"
        audio = load_segment(path)
        note = load_note(path)
        if audio is None or abs(audio.duration - plan.segment_s) > 1.0 / audio.sample_rate:
            audio, note = render_segment(plan, seg, backend, settings, on_grid=loose)
            save_segment(path, audio)
            save_note(path, note)
            rendered += 1
        if note:
            notes.append(f"segment {index + 1}: {note}")
        parts.append(audio)
    rate = parts[0].sample_rate
    same_rate = tuple(p if p.sample_rate == rate else resample(p, rate) for p in parts)
    return RenderedSegments(same_rate, rendered=rendered, reused=len(parts) - rendered, on_grid=tuple(notes))


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


def render_segment(
    plan: JamPlan, seg: JamSegment, backend: Backend, settings: Settings, *, on_grid: bool = False
) -> tuple[Audio, str | None]:
    """One prompt at the jam's tempo and key, cut on the bar line that ends the segment, and what was done
    to put it on the grid. With `on_grid` (a model backend) it is made a bar and a stretch longer than the
    segment, so a lead-in cut to the downbeat and a faster stretch still leave a whole segment; otherwise
    (a score) it is made to length and checked."""
    length = plan.segment_s
    bar_s = plan.beats_per_bar * 60.0 / plan.bpm
    asked = length * (1.0 + MAX_STRETCH) + bar_s if on_grid else length
    generation = backend.generate(
        GenerationRequest(
            prompt=seg.prompt,
            duration_s=asked,
            seed=seg.seed,
            bpm=plan.bpm,
            key=plan.key,
            default_duration_s=asked,
            max_duration_s=max(asked, float(settings.max_duration_s)),
        ),
        _quiet,
    )
    audio = generation.audio.to_stereo()
    note: str | None = None
    if on_grid:
        audio, fix = put_on_grid(audio, bpm=plan.bpm, key=plan.key, beats_per_bar=plan.beats_per_bar)
        note = "; ".join(filter(None, [fix.describe(), *fix.refused])) or None
    elif generation.midi is not None:
        check_on_grid(
            audio, bpm=plan.bpm, beats_per_bar=plan.beats_per_bar, what=f"jam {plan.jam_id} segment"
        )
    # A segment's ring-out past its last bar line is cut: the next segment's crossfade covers the seam.
    return fit_length(audio, length, fade_out_s=DECLICK_S), note


def _quiet(stage: str, step: int, total: int) -> None:
    """Segments report as a whole (one step each), not their backend's inner stages."""


def join_segments(parts: tuple[Audio, ...], plan: JamPlan, *, target_lufs: float) -> Audio:
    """Each part to the same loudness (so no contributor drowns another), crossfaded, mastered."""
    levelled = [normalize_loudness(part, target_lufs=target_lufs) for part in parts]
    joined = concat_crossfade(levelled, effective_crossfade_s(plan.segment_s, plan.crossfade_s))
    ending = fade(joined, DECLICK_S, min(1.0, plan.segment_s / 4))
    return normalize_loudness(ending, target_lufs=target_lufs)


def bridge_seams(
    audio: Audio, plan: JamPlan, backend_name: str, bridger: BridgesSeams, settings: Settings
) -> Audio:
    """Lay a window interpolated halfway between each pair of consecutive prompts over their seam.

    The backend's transition (riffusion's interpolation) morphs one prompt into the next instead of only
    fading: the bridge (cached like segments) is blended in with a smooth bump centred on the crossfade,
    so timing is unchanged.
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
            bridge = bridger.transition(
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
