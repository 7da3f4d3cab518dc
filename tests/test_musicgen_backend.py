"""The musicgen backend end to end on tiny random-weight MusicGen and MusicGen-Melody models, saved with
save_pretrained and loaded through the same from_pretrained path users hit, and its "can't run" answers."""

from __future__ import annotations

import dataclasses
import io
import threading
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("sentencepiece")

from services.audio.decoding import decode_audio  # noqa: E402
from services.audio.edit import resample  # noqa: E402
from services.audio.mp3 import encode_mp3  # noqa: E402
from services.audio.types import Audio  # noqa: E402
from services.backends.base import BackendUnavailable, GenerationRequest, no_progress  # noqa: E402
from services.backends.musicgen.backend import SEAM_S, MusicgenBackend  # noqa: E402
from services.backends.musicgen.chroma import melody_chroma  # noqa: E402
from services.backends.musicgen.config import MusicgenConfig  # noqa: E402
from services.backends.musicgen.model import forget_models  # noqa: E402
from services.errors import UserError  # noqa: E402
from tests.tiny_models import MUSICGEN_SAMPLE_RATE, build_tiny_musicgen_model  # noqa: E402
from tests.tolerances import ITERATED_PATHS_RTOL, scaled_error  # noqa: E402

SR = MUSICGEN_SAMPLE_RATE


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("musicgen")
    return build_tiny_musicgen_model(root / "text"), build_tiny_musicgen_model(root / "melody", melody=True)


def config(models: tuple[Path, Path], **changes: Any) -> MusicgenConfig:
    base = MusicgenConfig(
        model=str(models[0]),
        melody_model=str(models[1]),
        revision=None,
        device="cpu",
        dtype="auto",
        guidance=3.0,
        temperature=1.0,
        top_k=250,
        window_s=6.0,
        overlap_s=2.0,
        max_seconds=60.0,
        batch_size=4,
        batch_wait_ms=0,
    )
    return dataclasses.replace(base, **changes)


def ask(prompt: str, seconds: float, seed: int, **more: Any) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, duration_s=seconds, seed=seed, max_duration_s=120, **more)


def wav_bytes(samples: np.ndarray, rate: int = SR) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def tone(freq: float, seconds: float, rate: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_words_make_the_asked_length_and_a_seed_makes_it_again(models: tuple[Path, Path]) -> None:
    backend = MusicgenBackend(config(models))
    assert backend.available().available
    steps: list[tuple[int, int]] = []
    made = backend.generate(ask("rainy lofi piano", 4.0, 3), lambda stage, k, n: steps.append((k, n)))
    assert made.audio.sample_rate == SR and made.audio.frames == 4 * SR
    assert np.isfinite(made.audio.samples).all() and np.abs(made.audio.samples).max() > 0
    again = backend.generate(ask("rainy lofi piano", 4.0, 3), no_progress)
    other = backend.generate(ask("rainy lofi piano", 4.0, 4), no_progress)
    assert np.array_equal(made.audio.samples, again.audio.samples)
    assert not np.array_equal(made.audio.samples, other.audio.samples)
    generating = [s for s in steps if s[1] > 1]
    assert generating[-1][0] == generating[-1][1] == 4 * 50 + 1  # one step a code frame, +1 for the delay
    assert [k for k, _ in generating] == sorted(k for k, _ in generating)
    assert "CC-BY-NC" in made.summary[-1]


def test_a_piece_made_in_a_batch_is_the_piece_its_seed_makes_alone(models: tuple[Path, Path]) -> None:
    backend = MusicgenBackend(config(models, batch_wait_ms=800))
    before = backend.batcher().batches_run
    results: dict[int, np.ndarray] = {}

    def make(seed: int) -> None:
        results[seed] = backend.generate(ask("dark techno beat", 3.0, seed), no_progress).audio.samples

    threads = [threading.Thread(target=make, args=(seed,)) for seed in (11, 12, 13)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert backend.batcher().batches_run - before == 1
    alone = MusicgenBackend(config(models))
    for seed, samples in results.items():
        single = alone.generate(ask("dark techno beat", 3.0, seed), no_progress).audio.samples
        assert scaled_error(samples, single) <= ITERATED_PATHS_RTOL


def test_past_one_window_each_window_continues_the_last_and_the_length_is_exact(
    models: tuple[Path, Path],
) -> None:
    backend = MusicgenBackend(config(models))
    before = backend.batcher().batches_run
    made = backend.generate(ask("epic synth", 13.0, 5), no_progress)
    assert made.audio.frames == 13 * SR
    assert backend.batcher().batches_run - before == 3  # 6 s, then 4 s more twice (2 s of context each)


def test_a_stated_tempo_and_key_are_written_into_the_words_and_said(models: tuple[Path, Path]) -> None:
    backend = MusicgenBackend(config(models))
    asked = backend._asked(ask("happy folk guitar", 4.0, 1, bpm=120, key="A minor"))
    assert asked.text == "happy folk guitar, 120 bpm, in A minor"
    made = backend.generate(ask("happy folk guitar", 4.0, 1, bpm=120, key="A minor"), no_progress)
    assert (made.tempo_bpm, made.key) == (120.0, "A minor")
    assert "tempo 120 bpm, key A minor" in made.summary[1]


def test_the_chroma_of_a_clip_is_its_melody() -> None:
    clip = Audio.from_array(np.concatenate([tone(440.0, 1.5), tone(261.63, 1.5)]), SR)
    chroma = melody_chroma(clip, sample_rate=SR, n_fft=16384, hop=4096, frames=235)
    classes = chroma.argmax(axis=1)
    assert chroma.shape == (int(3.0 * SR) // 4096 + 1, 12) and set(np.unique(chroma)) == {0.0, 1.0}
    assert (classes[2:9] == 9).all() and (classes[14:21] == 0).all()  # A, then C


def test_a_hummed_clip_conditions_the_melody_model_with_its_own_chroma(models: tuple[Path, Path]) -> None:
    backend = MusicgenBackend(config(models))
    loaded = backend.loaded(melody=True)
    seen: list[np.ndarray] = []
    real = loaded.model.generate

    def spy(**kwargs: Any) -> Any:  # the real generate, with what it was given kept
        seen.append(kwargs["input_features"].float().numpy())
        return real(**kwargs)

    loaded.model.generate = spy
    try:
        hum = np.concatenate([tone(392.0, 1.0, 44_100), tone(329.63, 1.0, 44_100)])
        made = backend.generate_from_audio(
            ask("hum melody", 4.0, 2), wav_bytes(hum, 44_100), "wav", no_progress
        )
    finally:
        del loaded.model.generate
    assert made.audio.frames == 4 * SR
    expected = melody_chroma(
        decode_audio(wav_bytes(hum, 44_100), "wav"), sample_rate=SR, n_fft=16384, hop=4096, frames=235
    )
    assert len(seen) == 1 and np.array_equal(seen[0][0], expected)
    assert "melody from your clip" in made.summary[0]


def test_extend_continues_the_piece_and_keeps_it_before_the_seam(models: tuple[Path, Path]) -> None:
    backend = MusicgenBackend(config(models))
    first = backend.generate(ask("calm ambient", 4.0, 8), no_progress)
    mp3 = encode_mp3(first.audio)
    longer = backend.continue_audio(ask("calm ambient", 9.0, 9), mp3, "mp3", no_progress)
    assert longer.audio.frames == 9 * SR
    heard = resample(decode_audio(mp3, "mp3"), SR)
    keep = int((4.0 - SEAM_S) * SR) - 1
    assert np.allclose(longer.audio.samples[0, :keep], heard.to_mono()[:keep], atol=1e-6)
    with pytest.raises(UserError, match="already at"):
        MusicgenBackend(config(models, max_seconds=4.5)).continue_audio(
            ask("calm ambient", 10.0, 9), mp3, "mp3", no_progress
        )


def test_a_missing_model_says_what_to_do_and_a_text_model_is_no_melody_model(
    models: tuple[Path, Path], tmp_path: Path
) -> None:
    gone = MusicgenBackend(config(models, model=str(tmp_path / "nowhere")))
    status = gone.available()
    assert not status.available and "MUSICGEN_MODEL" in status.reason
    with pytest.raises(BackendUnavailable, match="MUSICGEN_MODEL"):
        gone.generate(ask("x", 2.0, 1), no_progress)
    hub = MusicgenBackend(config(models, model="promptjam-tests/no-such-musicgen"))
    assert "huggingface-cli download promptjam-tests/no-such-musicgen" in hub.available().reason
    no_melody = MusicgenBackend(config(models, melody_model=str(tmp_path / "none")))
    assert no_melody.available().available and "melody model not here" in no_melody.available().reason
    with pytest.raises(BackendUnavailable, match="can't follow a melody"):
        no_melody.generate_from_audio(ask("x", 2.0, 1), wav_bytes(tone(440, 2.0)), "wav", no_progress)
    wrong = MusicgenBackend(config(models, melody_model=str(models[0])))
    with pytest.raises(BackendUnavailable, match="not a melody checkpoint"):
        wrong.generate_from_audio(ask("x", 2.0, 1), wav_bytes(tone(440, 2.0)), "wav", no_progress)
    forget_models()
