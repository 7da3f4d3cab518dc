"""Riffusion jams: seams bridged by riffusion's interpolation between consecutive prompts (tiny model)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("diffusers")

from services.audio.mp3 import decode_audio  # noqa: E402
from services.jams.timing import piece_length_s  # noqa: E402
from services.jobs.models import JamPlan, JamSegment, MusicRequest  # noqa: E402
from services.jobs.work import run_job  # noqa: E402
from services.settings import Settings  # noqa: E402
from tests.tiny_models import build_tiny_model  # noqa: E402


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-riffusion-jam"))


def test_consecutive_prompts_are_bridged_by_interpolation(
    settings_factory: Callable[..., Settings], tiny_model: Path
) -> None:
    settings = settings_factory(riffusion_model=str(tiny_model), riffusion_steps=2, riffusion_batch_wait_ms=0)
    plan = JamPlan(
        jam_id="jam-r",
        theme="sea",
        bpm=120.0,
        key="A minor",
        bars=3,
        beats_per_bar=4,
        crossfade_beats=1.0,
        segments=(
            JamSegment(1, "waves and pads", 11, 100, "alice"),
            JamSegment(2, "drums on the shore", 12, 200, "bob"),
            JamSegment(3, "gulls and guitar", 13, 300, "carol"),
        ),
    )
    request = MusicRequest(prompt="jam", backend="riffusion", seed=1, jam=plan)
    result = run_job("jam-r-1", request, settings, lambda s, k, n: None)
    assert any("2 seams bridged" in line for line in result.summary)
    expected = piece_length_s(3, plan.segment_s, plan.crossfade_s)
    assert abs(decode_audio(Path(result.mp3_path).read_bytes()).duration - expected) <= 0.5
    bridges = sorted((settings.data_dir / "jams" / "jam-r").glob("bridge-*.wav"))
    assert len(bridges) == 2
    # A second play reuses the cached segments and bridges (nothing is redrawn).
    stamps = [p.stat().st_mtime_ns for p in bridges]
    again = run_job("jam-r-2", request, settings, lambda s, k, n: None)
    assert any("0 segments rendered now, 3 reused" in line for line in again.summary)
    assert [p.stat().st_mtime_ns for p in bridges] == stamps
