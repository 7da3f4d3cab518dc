"""The riffusion backend end to end on a tiny random-weight model, and its "model missing" answers."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("diffusers")

from services.audio.mp3 import decode_audio, encode_mp3  # noqa: E402
from services.backends.base import BackendUnavailable, Cancelled, GenerationRequest  # noqa: E402
from services.backends.riffusion import availability  # noqa: E402
from services.backends.riffusion.availability import model_problem  # noqa: E402
from services.backends.riffusion.backend import RiffusionBackend, RiffusionOptions, window_layout  # noqa: E402
from services.backends.riffusion.codec import SpectrogramCodec  # noqa: E402
from services.backends.riffusion.interpolate import Endpoint  # noqa: E402
from tests.tiny_models import build_tiny_model, wav_bytes  # noqa: E402

HUB = "riffusion/riffusion-model-v1"


@pytest.fixture(scope="module")
def tiny_backend(tmp_path_factory: pytest.TempPathFactory) -> RiffusionBackend:
    folder = build_tiny_model(tmp_path_factory.mktemp("tiny-sd"))
    options = RiffusionOptions(model=str(folder), steps=4, image_size=64, batch_wait_ms=0.0)
    return RiffusionBackend(options, codec=SpectrogramCodec(iterations=2))


def request(prompt: str, seconds: float, seed: int = 1, bpm: float | None = None) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, duration_s=seconds, seed=seed, bpm=bpm)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, int, int]] = []

    def __call__(self, stage: str, step: int, total: int) -> None:
        self.events.append((stage, step, total))


def test_text_to_mp3_with_a_beat_seed_and_preview(tiny_backend: RiffusionBackend) -> None:
    progress = Recorder()
    result = tiny_backend.generate(request("funky rock drums and bass", 4.0, bpm=96), progress)
    assert result.audio.sample_rate == 44_100 and result.audio.frames == 4 * 44_100
    assert np.isfinite(result.audio.samples).all() and np.abs(result.audio.samples).max() > 0
    assert result.tempo_bpm == 96 and result.windows == 1
    assert any("beat at 96 bpm" in line for line in result.summary)
    assert result.preview_png is not None and Image.open(io.BytesIO(result.preview_png)).size == (64, 64)
    assert result.seed_png is not None and Image.open(io.BytesIO(result.seed_png)).size == (512, 512)
    denoising = [e for e in progress.events if e[0] == "denoising"]
    assert denoising == [("denoising", 1, 3), ("denoising", 2, 3), ("denoising", 3, 3)]  # 0.75 × 4 steps
    mp3 = encode_mp3(result.audio)
    assert abs(decode_audio(mp3, "mp3").duration - 4.0) < 0.1


def test_longer_pieces_chain_windows_and_end_on_the_walk(tiny_backend: RiffusionBackend) -> None:
    result = tiny_backend.generate(request("techno", 12.0, seed=40, bpm=120), Recorder())
    assert result.windows == 3 and result.audio.frames == 12 * 44_100
    assert result.extras["stride_s"] == pytest.approx(4.0)  # two 4/4 bars at 120 bpm
    # windows at alpha 0, .25, .5 between seeds 40 and 41: the walk ends half way, which rounds forward
    assert result.last_endpoint == Endpoint("techno", 41, denoising=0.75)
    same = tiny_backend.generate(request("techno", 12.0, seed=40, bpm=120), Recorder())
    np.testing.assert_allclose(same.audio.samples, result.audio.samples, atol=1e-4)


def test_extend_starts_from_the_previous_endpoint(tiny_backend: RiffusionBackend) -> None:
    first = tiny_backend.generate(request("ambient pads", 4.0, seed=3, bpm=80), Recorder())
    assert first.last_endpoint is not None
    more = tiny_backend.extend(request("ambient pads with bells", 4.0, seed=9, bpm=80), first.last_endpoint,
                               Recorder())
    fresh = tiny_backend.generate(request("ambient pads with bells", 4.0, seed=9, bpm=80), Recorder())
    assert more.audio.frames == 4 * 44_100
    assert np.abs(more.audio.samples - fresh.audio.samples).max() > 1e-3  # a quarter of the way, not there


def test_audio_to_audio_from_an_attachment(tiny_backend: RiffusionBackend) -> None:
    result = tiny_backend.generate_from_audio(request("make it jazz", 5.0, seed=2), wav_bytes(3.0), "wav",
                                              Recorder())
    assert result.audio.frames == 5 * 44_100 and result.tempo_bpm is None
    assert result.summary[0] == "seed: your audio"
    with pytest.raises(ValueError):
        tiny_backend.generate_from_audio(request("x", 5.0), b"garbage", "mp3", Recorder())


def test_cancelling_from_progress_stops_the_job(tiny_backend: RiffusionBackend) -> None:
    def cancel(stage: str, step: int, total: int) -> None:
        if stage == "denoising":
            raise Cancelled("stopped by the user")

    with pytest.raises(Cancelled):
        tiny_backend.generate(request("rock", 4.0, bpm=100), cancel)


def test_window_layout_snaps_to_the_beat() -> None:
    at_120 = window_layout(20.0, 120.0, 4.0, 5.11)
    assert at_120.stride_s == pytest.approx(4.0) and at_120.count == 5
    odd = window_layout(20.0, 97.0, 4.0, 5.11)
    beat = 60 / 97
    assert odd.stride_s / beat == pytest.approx(round(odd.stride_s / beat))
    assert window_layout(3.0, None, 4.0, 5.11).count == 1


def test_diffusers_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(availability, "missing_packages", lambda: ["diffusers"])
    status = RiffusionBackend(RiffusionOptions(model="/nowhere")).available()
    assert not status.available
    assert "diffusers" in status.reason and "scripts/install.sh --gpu" in status.reason


def test_local_folder_missing_or_incomplete(tmp_path: Path) -> None:
    missing = RiffusionBackend(RiffusionOptions(model=str(tmp_path / "nope"))).available()
    assert not missing.available
    assert "does not exist" in missing.reason and "RIFFUSION_MODEL" in missing.reason
    empty = RiffusionBackend(RiffusionOptions(model=str(tmp_path))).available()
    assert not empty.available and "model_index.json" in empty.reason
    with pytest.raises(BackendUnavailable, match="model_index.json"):
        RiffusionBackend(RiffusionOptions(model=str(tmp_path))).generate(request("x", 4.0), Recorder())


def test_hub_id_not_downloaded_then_cached(tmp_path: Path) -> None:
    status = RiffusionBackend(RiffusionOptions(model=HUB, hf_cache_dir=tmp_path)).available()
    assert not status.available
    assert status.reason == (
        "riffusion: the model riffusion/riffusion-model-v1 is not downloaded: run "
        "`huggingface-cli download riffusion/riffusion-model-v1` or set RIFFUSION_MODEL to a local folder"
    )
    # the hub cache layout huggingface-cli leaves behind: refs/main → snapshots/<commit>/model_index.json
    repo = tmp_path / "models--riffusion--riffusion-model-v1"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "model_index.json").write_text(json.dumps({"_class_name": "x"}))
    assert model_problem(HUB, cache_dir=tmp_path) is None
    assert RiffusionBackend(RiffusionOptions(model=HUB, hf_cache_dir=tmp_path)).available().available


def test_from_settings_uses_defaults_for_unset_riffusion_settings() -> None:
    from services.settings import Settings

    backend = RiffusionBackend.from_settings(Settings(riffusion_model="/models/riff", device="cpu"))
    assert backend.options.model == "/models/riff" and backend.options.device == "cpu"
    assert backend.options.steps == RiffusionOptions().steps
