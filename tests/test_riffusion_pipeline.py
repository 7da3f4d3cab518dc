"""The riffusion pipeline on a tiny random-weight Stable Diffusion, saved and loaded like the real one."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("diffusers")

from services.backends.base import Cancelled  # noqa: E402
from services.backends.batching import Batcher  # noqa: E402
from services.backends.riffusion.interpolate import (  # noqa: E402
    Endpoint,
    SpectrogramJob,
    interpolate,
    render,
    slerp,
)
from services.backends.riffusion.pipeline import (  # noqa: E402
    PipelineConfig,
    SpectrogramPipeline,
    forget_pipelines,
    get_pipeline,
    to_pil,
)
from services.backends.riffusion.seeds import audio_format, audio_seed, beat_seed, texture_seed  # noqa: E402
from tests.tiny_models import build_tiny_model, wav_bytes  # noqa: E402
from tests.tolerances import ITERATED_PATHS_RTOL, assert_close_scaled  # noqa: E402

SIZE = 64  # tiny images: the VAE still scales by 8, so latents are 8×8


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-sd"))


@pytest.fixture(scope="module")
def pipe(model_dir: Path) -> SpectrogramPipeline:
    forget_pipelines()
    return get_pipeline(PipelineConfig(str(model_dir), device="auto"))


@pytest.fixture(scope="module")
def beat() -> object:
    return beat_seed(110.0, "rock")


def job(prompt: str, seed: int, init: object = None, denoising: float = 0.75) -> SpectrogramJob:
    start = Endpoint(prompt, seed, denoising=denoising)
    return SpectrogramJob(start, init_image=init, steps=4, width=SIZE, height=SIZE)  # type: ignore[arg-type]


def test_loads_once_from_a_local_folder_in_float32_on_cpu(pipe: SpectrogramPipeline, model_dir: Path) -> None:
    assert str(pipe.device) == "cpu"
    assert str(pipe.dtype) == "torch.float32"
    assert pipe.vae_scale == 8
    assert get_pipeline(PipelineConfig(str(model_dir), device="auto")) is pipe
    with pytest.raises(ValueError, match="unknown scheduler"):
        PipelineConfig(str(model_dir), scheduler="nope")


def test_text_to_image_is_seeded(pipe: SpectrogramPipeline) -> None:
    a = render(pipe, [job("lofi piano", 7)])
    again = render(pipe, [job("lofi piano", 7)])
    other_seed = render(pipe, [job("lofi piano", 8)])
    other_prompt = render(pipe, [job("metal guitar", 7)])
    assert a.shape == (1, SIZE, SIZE, 3)
    assert 0.0 <= a.min() and a.max() <= 1.0
    np.testing.assert_array_equal(a, again)
    assert np.abs(a - other_seed).max() > 1e-3
    assert np.abs(a - other_prompt).max() > 1e-4
    assert to_pil(a[0]).size == (SIZE, SIZE)


@pytest.mark.parametrize("scheduler", ["ddim", "euler"])
def test_other_schedulers_run(model_dir: Path, scheduler: str) -> None:
    other = SpectrogramPipeline.load(PipelineConfig(str(model_dir), scheduler=scheduler))
    out = render(other, [job("jazz", 1)])
    assert np.isfinite(out).all() and out.shape == (1, SIZE, SIZE, 3)


def test_img2img_from_a_generated_beat_keeps_the_seed_image(pipe: SpectrogramPipeline, beat: object) -> None:
    light = render(pipe, [job("drums", 3, beat, denoising=0.25)])
    heavy = render(pipe, [job("drums", 3, beat, denoising=1.0)])
    assert light.shape == (1, SIZE, SIZE, 3)
    assert np.abs(light - heavy).max() > 1e-3  # strength changes the result


def test_interpolation_endpoints_equal_plain_generation(pipe: SpectrogramPipeline, beat: object) -> None:
    a, b = Endpoint("funky bass", 11, guidance=6.0, denoising=0.5), Endpoint("sad violin", 12, guidance=8.0,
                                                                           denoising=0.75)
    plain_a = render(pipe, [SpectrogramJob(a, None, 0.0, beat, 4, SIZE, SIZE)])[0]  # type: ignore[arg-type]
    plain_b = render(pipe, [SpectrogramJob(b, None, 0.0, beat, 4, SIZE, SIZE)])[0]  # type: ignore[arg-type]
    at_0 = interpolate(pipe, a, b, 0.0, beat, steps=4, width=SIZE, height=SIZE)  # type: ignore[arg-type]
    at_1 = interpolate(pipe, a, b, 1.0, beat, steps=4, width=SIZE, height=SIZE)  # type: ignore[arg-type]
    middle = interpolate(pipe, a, b, 0.5, beat, steps=4, width=SIZE, height=SIZE)  # type: ignore[arg-type]
    np.testing.assert_allclose(at_0, plain_a, atol=1e-5)
    np.testing.assert_allclose(at_1, plain_b, atol=1e-5)
    assert np.abs(middle - plain_a).max() > 1e-3 and np.abs(middle - plain_b).max() > 1e-3


def test_text_to_image_interpolation_endpoints(pipe: SpectrogramPipeline) -> None:
    a, b = Endpoint("calm", 1), Endpoint("loud", 2)
    for alpha, end in ((0.0, a), (1.0, b)):
        blended = interpolate(pipe, a, b, alpha, None, steps=3, width=SIZE, height=SIZE)
        plain = render(pipe, [SpectrogramJob(end, steps=3, width=SIZE, height=SIZE)])[0]
        np.testing.assert_allclose(blended, plain, atol=1e-5)


def test_slerp_keeps_the_noise_norm(pipe: SpectrogramPipeline) -> None:
    x, y = pipe.noise(1, SIZE, SIZE), pipe.noise(2, SIZE, SIZE)
    mid = slerp(x, y, 0.5)
    assert slerp(x, y, 0.0) is x and slerp(x, y, 1.0) is y
    # two independent Gaussians are nearly orthogonal: the lerp midpoint shrinks by ~1/sqrt(2), slerp does not
    assert abs(float(mid.norm()) / float(x.norm()) - 1.0) < 0.1
    assert float(((x + y) / 2).norm()) / float(x.norm()) < 0.8
    np.testing.assert_allclose(slerp(x, x * 1.0, 0.3).numpy(), x.numpy(), atol=1e-5)  # parallel: lerp


def test_batched_items_equal_items_run_alone(pipe: SpectrogramPipeline, beat: object) -> None:
    jobs = [job("rain", seed, beat) for seed in (1, 2, 3)] + [
        SpectrogramJob(Endpoint("rain", 4), Endpoint("storm", 5), 0.3, beat, 4, SIZE, SIZE)  # type: ignore[arg-type]
    ]
    alone = [render(pipe, [j])[0] for j in jobs]
    batcher: Batcher[SpectrogramJob, np.ndarray] = Batcher(
        lambda js, on_step: list(render(pipe, js, on_step)), SpectrogramJob.batch_key,
        max_batch=4, max_wait_s=30.0,
    )
    results: dict[int, np.ndarray] = {}

    def worker(index: int) -> None:
        results[index] = batcher.submit(jobs[index])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert batcher.batches_run == 1  # the fourth arrival filled the batch; nobody waited the 30 s
    for index, single in enumerate(alone):  # batched convolutions round differently from single ones
        assert_close_scaled(results[index], single, rtol=ITERATED_PATHS_RTOL, what=f"batched item {index}")


def test_batcher_splits_by_key_and_size() -> None:
    calls: list[list[int]] = []

    def run(jobs: object, on_step: object) -> list[int]:
        items = list(jobs)  # type: ignore[call-overload]
        calls.append(items)
        return [x * 10 for x in items]

    batcher: Batcher[int, int] = Batcher(run, lambda x: x % 2, max_batch=2, max_wait_s=0.0)
    assert batcher.submit_many([1, 2, 3, 5, 4]) == [10, 20, 30, 50, 40]
    assert sorted(map(sorted, calls)) == [[1, 3], [2, 4], [5]]


def test_cancelling_one_batch_member_spares_the_others() -> None:
    gate = threading.Barrier(2)

    def run(jobs: object, on_step: object) -> list[str]:
        for step in range(1, 4):
            on_step(step, 3)  # type: ignore[operator]
        return [f"done {j}" for j in jobs]  # type: ignore[attr-defined]

    batcher: Batcher[str, str] = Batcher(run, lambda j: "same", max_batch=2, max_wait_s=30.0)
    outcome: dict[str, object] = {}

    def cancel_at_two(step: int, total: int) -> None:
        if step == 2:
            raise Cancelled("user pressed stop")

    def worker(name: str, on_step: object) -> None:
        gate.wait()
        try:
            outcome[name] = batcher.submit(name, on_step)  # type: ignore[arg-type]
        except Cancelled as exc:
            outcome[name] = exc

    seen: list[tuple[int, int]] = []
    threads = [threading.Thread(target=worker, args=("a", cancel_at_two)),
               threading.Thread(target=worker, args=("b", lambda k, n: seen.append((k, n))))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert isinstance(outcome["a"], Cancelled)
    assert outcome["b"] == "done b"
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_progress_counts_the_steps_img2img_runs(pipe: SpectrogramPipeline, beat: object) -> None:
    events: list[tuple[int, int]] = []
    half = SpectrogramJob(Endpoint("x", 1, denoising=0.5), None, 0.0, beat, 6, SIZE, SIZE)  # type: ignore[arg-type]
    render(pipe, [half], lambda k, n: events.append((k, n)))
    assert events == [(1, 3), (2, 3), (3, 3)]


def test_cancelling_through_progress_stops_denoising(pipe: SpectrogramPipeline) -> None:
    events: list[int] = []

    def stop(step: int, total: int) -> None:
        events.append(step)
        if step == 2:
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        render(pipe, [job("x", 1)], stop)
    assert events == [1, 2]


def test_seed_images_are_full_size_spectrograms() -> None:
    slow, fast = beat_seed(70.0, "boom_bap"), beat_seed(160.0, "boom_bap")
    assert slow.size == fast.size == (512, 512)
    assert np.abs(np.asarray(slow, dtype=float) - np.asarray(fast, dtype=float)).mean() > 1.0
    for name in ("noise", "drone", "pulse"):
        assert texture_seed(name).size == (512, 512)
    with pytest.raises(ValueError, match="unknown texture"):
        texture_seed("bagpipes")


def test_img2img_from_user_audio(pipe: SpectrogramPipeline) -> None:
    seed = audio_seed(wav_bytes(2.0), audio_format("my riff.WAV"))  # shorter than a window: looped
    assert seed.size == (512, 512)
    out = render(pipe, [job("guitar", 5, seed, denoising=0.55)])
    assert out.shape == (1, SIZE, SIZE, 3) and np.isfinite(out).all()


def test_user_audio_limits_and_formats() -> None:
    with pytest.raises(ValueError, match="limit"):
        audio_seed(b"x" * 2000, "wav", max_bytes=1000)
    with pytest.raises(ValueError, match="attach an audio file"):
        audio_format("picture.png")
    with pytest.raises(ValueError):
        audio_seed(b"not audio at all", "mp3")
