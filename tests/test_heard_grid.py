"""The jam's grid: where the beats and downbeats fall, and segments a model played loosely put on it."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from services.audio.types import Audio
from services.backends.base import Generation, GenerationRequest, ProgressFn, no_progress
from services.backends.registry import get_backend
from services.heard.grid import beat_grid
from services.heard.measure import measure
from services.jams.on_grid import put_on_grid
from services.jams.render import render_segments
from services.jobs.models import JamPlan, JamSegment
from tests.conftest import make_settings

RATE = 44_100


def clicks(bpm: float, seconds: float, *, start_s: float, accent_beat: int | None = None) -> Audio:
    """A noise burst on every beat from `start_s`; with `accent_beat`, that beat of each 4/4 bar is loud
    and the others soft (so the bar's one is the accented beat), else all beats are alike."""
    rng = np.random.default_rng(11)
    size = int(0.03 * RATE)
    burst = (rng.standard_normal(size) * np.exp(-np.linspace(0, 8, size))).astype(np.float32)
    out = np.zeros(int(seconds * RATE), np.float32)
    beat, k = 60.0 / bpm, 0
    while start_s + k * beat < seconds - 0.05:
        at = int(round((start_s + k * beat) * RATE))
        gain = 0.9 if accent_beat is None or k % 4 == accent_beat else 0.3
        out[at : at + size] += gain * burst[: out.size - at]
        k += 1
    return Audio.from_array(out, RATE)


@pytest.mark.parametrize(("bpm", "start_s"), [(120.0, 0.137), (97.0, 0.03), (140.0, 0.31), (80.0, 0.5)])
def test_the_first_beat_is_found_within_a_few_milliseconds(bpm: float, start_s: float) -> None:
    grid = beat_grid(clicks(bpm, 12.0, start_s=start_s), bpm)
    assert grid.first_beat_s == pytest.approx(start_s, abs=0.004)
    assert grid.strength > 1.0


@pytest.mark.parametrize("accent_beat", [0, 1, 2, 3])
def test_the_downbeat_is_the_accented_beat_of_the_bar(accent_beat: int) -> None:
    bpm, start_s = 120.0, 0.2
    grid = beat_grid(clicks(bpm, 12.0, start_s=start_s, accent_beat=accent_beat), bpm, beats_per_bar=4)
    assert grid.accented
    assert grid.downbeat_s == pytest.approx(start_s + accent_beat * 60.0 / bpm, abs=0.004)


def test_a_loose_segment_is_stretched_to_the_grid_and_starts_on_its_downbeat() -> None:
    # played 4% slow, starting 0.3 s in, with the bar's one on its second click
    loose = clicks(115.2, 12.0, start_s=0.3, accent_beat=1)
    fixed, fix = put_on_grid(loose, bpm=120.0, key="A minor", beats_per_bar=4)
    assert fix.stretched_from == pytest.approx(115.2, abs=0.3)
    assert fix.on_downbeat
    assert fix.lead_in_s == pytest.approx(
        (0.3 + 60.0 / 115.2) * 115.2 / 120.0, abs=0.04
    )  # atempo shifts a little
    heard = measure(fixed, stated_bpm=120.0)
    assert heard.tempo_bpm == pytest.approx(120.0, abs=0.5)
    grid = beat_grid(fixed, 120.0)
    assert min(grid.downbeat_s, 2.0 - grid.downbeat_s) < 0.01  # the downbeat is at the start now
    assert fix.describe() is not None and "stretched from 115 bpm" in fix.describe()  # type: ignore[operator]


def test_a_segment_far_off_the_tempo_is_kept_as_played_and_said() -> None:
    far = clicks(100.0, 12.0, start_s=0.25)
    kept, fix = put_on_grid(far, bpm=120.0, key="A minor", beats_per_bar=4)
    assert kept is far
    assert fix.stretched_from is None and fix.lead_in_s == 0.0
    assert fix.refused and "100 bpm" in fix.refused[0]


def test_a_drone_is_left_alone() -> None:
    t = np.arange(int(8.0 * RATE)) / RATE
    drone = Audio.from_array((0.2 * np.sin(2 * np.pi * 110.0 * t)).astype(np.float32), RATE)
    kept, fix = put_on_grid(drone, bpm=120.0, key="A minor", beats_per_bar=4)
    assert kept is drone and fix.describe() is None


class LooseModel:
    """Stands in for a model backend (none can run here) that plays the tempo 3% fast and begins late:
    clicks as long as asked, the first 0.4 s in."""

    name = "riffusion"

    def __init__(self) -> None:
        self.asked: list[GenerationRequest] = []

    def generate(self, request: GenerationRequest, progress: ProgressFn) -> Generation:
        self.asked.append(request)
        assert request.bpm is not None and request.duration_s is not None
        audio = clicks(request.bpm * 1.03, request.duration_s, start_s=0.4, accent_beat=0)
        return Generation(audio=audio, title="loose", duration_s=request.duration_s, tempo_bpm=request.bpm)


def _plan(bars: int = 4) -> JamPlan:
    segments = tuple(JamSegment(i + 1, f"prompt {i}", 100 + i, 10 + i, f"user{i}") for i in range(2))
    return JamPlan("jam-grid", "", 120.0, "A minor", bars, 4, 1.0, segments)


def test_a_model_jams_segments_are_put_on_the_grid_and_the_cache_remembers_what_was_done(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path / "data", embeddings_enabled=False)
    model = LooseModel()
    plan = _plan()
    first = render_segments(plan, "riffusion", model, settings, no_progress, steps=3)  # type: ignore[arg-type]
    # made a bar and a stretch longer than the segment, so the cut and the stretch leave a whole one
    assert all(r.duration_s is not None and r.duration_s > plan.segment_s + 2.0 for r in model.asked)
    assert all(part.frames == round(plan.segment_s * part.sample_rate) for part in first.parts)
    assert len(first.on_grid) == 2
    assert first.on_grid[0].startswith("segment 1: stretched from 124 bpm")
    for part in first.parts:
        assert measure(part, stated_bpm=120.0).tempo_bpm == pytest.approx(120.0, abs=0.5)
        down = beat_grid(part, 120.0).downbeat_s
        assert min(down, 2.0 - down) < 0.01

    again = render_segments(plan, "riffusion", model, settings, no_progress, steps=3)  # type: ignore[arg-type]
    assert (again.rendered, again.reused) == (0, 2) and len(model.asked) == 2
    assert again.on_grid == first.on_grid


def test_a_styles_jam_is_on_the_grid_by_construction(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path / "data", embeddings_enabled=False)
    backend = get_backend("styles", settings)
    plan = _plan(bars=2)
    plan = JamPlan(plan.jam_id, "", 120.0, "A minor", 2, 4, 1.0, (JamSegment(1, "lofi drums", 5, 1, "a"),))
    with caplog.at_level(logging.WARNING, logger="services.jams.on_grid"):
        rendered = render_segments(plan, "styles", backend, settings, no_progress, steps=2)
    assert rendered.on_grid == ()  # nothing done to a score's render
    assert not [r for r in caplog.records if "off the grid" in r.getMessage()]
