"""The styles backend end to end (interpret → compose → render), and `promptjam make` from the shell."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from services.audio.analysis import chroma_profile, pitch_class_energy_outside
from services.audio.mp3 import decode_audio
from services.backends.base import Generation, GenerationRequest, no_progress
from services.backends.styles.backend import StylesBackend
from services.score.midi import midi_to_score

ROOT = Path(__file__).resolve().parent.parent
FOLK = "a folk song that only uses A, B, C#, F# and G"
FOLK_SET = frozenset({9, 11, 1, 6, 7})


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> StylesBackend:
    from services.prompting.embeddings import Embedder

    return StylesBackend(soundfont=None, embedder=Embedder(cache_dir=tmp_path_factory.mktemp("cache")))


def _make(backend: StylesBackend, prompt: str, seed: int, duration: float | None = 12.0) -> Generation:
    return backend.generate(GenerationRequest(prompt=prompt, duration_s=duration, seed=seed), no_progress)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_folk_pitch_set_holds_in_the_midi_and_in_the_audio(backend: StylesBackend, seed: int) -> None:
    gen = _make(backend, FOLK, seed)
    assert gen.midi is not None
    score = midi_to_score(gen.midi)
    melodic = [n for t in score.tracks if not t.is_drum for n in t.notes]
    assert len(melodic) > 20
    assert {n.pitch % 12 for n in melodic} <= FOLK_SET

    chroma = chroma_profile(gen.audio)
    allowed = np.mean([chroma[pc] for pc in FOLK_SET])
    others = np.mean([chroma[pc] for pc in range(12) if pc not in FOLK_SET])
    # Harmonics of allowed notes (A's third partial is E, C#'s is G#) leak energy; the set still dominates.
    assert allowed >= 2.0 * others
    assert pitch_class_energy_outside(gen.audio, FOLK_SET) < 0.4


def test_a_c_major_piece_does_not_pass_the_folk_check(backend: StylesBackend) -> None:
    """The chroma check can fail: a piece in C major with no pitch set puts clearly more energy outside it."""
    gen = _make(backend, "a folk song in C major, no drums", 1)
    folk = _make(backend, FOLK, 1)
    assert pitch_class_energy_outside(gen.audio, FOLK_SET) > pitch_class_energy_outside(folk.audio, FOLK_SET)


def test_same_seed_same_audio_and_different_seeds_different_scores(backend: StylesBackend) -> None:
    a = _make(backend, "happy jazz trio", 5)
    b = _make(backend, "happy jazz trio", 5)
    c = _make(backend, "happy jazz trio", 6)
    assert np.array_equal(a.audio.samples, b.audio.samples)
    assert a.midi == b.midi
    assert a.midi != c.midi
    lead = lambda midi: [n.pitch for t in midi_to_score(midi).tracks if not t.is_drum for n in t.notes][:40]  # noqa: E731
    assert a.midi and c.midi and lead(a.midi) != lead(c.midi)


def test_stated_parameters_reach_the_result(backend: StylesBackend) -> None:
    gen = _make(backend, "melancholic lo-fi piano, 72 bpm, A minor", 1, duration=None)
    assert gen.tempo_bpm == 72
    assert gen.key == "A minor"
    assert gen.duration_s == 20.0  # the default when neither option nor prompt gives one
    assert any("72 bpm" in line and "stated" in line for line in gen.summary)
    waltz = _make(backend, "a gentle waltz, 30 seconds", 1, duration=None)
    assert waltz.time_signature == "3/4" and waltz.duration_s == 30.0
    drone = _make(backend, "ambient drone, no drums", 1)
    assert drone.midi is not None and not midi_to_score(drone.midi).drum_tracks()


def test_options_win_over_the_prompt_and_long_asks_are_clamped(backend: StylesBackend) -> None:
    gen = backend.generate(
        GenerationRequest(
            prompt="fast punk at 180 bpm in E minor", duration_s=6, seed=1, bpm=90, key="D major"
        ),
        no_progress,
    )
    assert gen.tempo_bpm == 90 and gen.key == "D major" and gen.duration_s == 6
    long = backend.generate(
        GenerationRequest(prompt="ambient for 10 minutes", duration_s=None, seed=1, max_duration_s=30),
        no_progress,
    )
    assert long.duration_s == 30 and any("limit" in n for n in long.notes)


def test_progress_is_reported_and_can_cancel(backend: StylesBackend) -> None:
    from services.backends.base import Cancelled

    seen: list[tuple[str, int, int]] = []
    _make_progress = lambda s, k, n: seen.append((s, k, n))  # noqa: E731
    backend.generate(GenerationRequest(prompt="calm piano", duration_s=6, seed=1), _make_progress)
    assert seen[0][1] == 0 and seen[-1][1] == seen[-1][2]
    assert [k for _, k, _ in seen] == sorted(k for _, k, _ in seen)

    def cancel_while_rendering(stage: str, k: int, n: int) -> None:
        if "rendering" in stage and k > 3:
            raise Cancelled()

    with pytest.raises(Cancelled):
        backend.generate(GenerationRequest(prompt="calm piano", duration_s=6, seed=1), cancel_while_rendering)


def test_promptjam_make_writes_a_playable_mp3(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "promptjam"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "bot.cli"]
    out = tmp_path / "rainy.mp3"
    proc = subprocess.run(
        [
            *cmd,
            "make",
            "rainy lo-fi piano, 80 bpm",
            "-d",
            "8",
            "--seed",
            "4",
            "-o",
            str(out),
            "--midi",
            str(tmp_path / "rainy.mid"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert "Tempo: 80 bpm" in proc.stdout and "What I understood" in proc.stdout
    audio = decode_audio(out.read_bytes())
    assert abs(audio.duration - 8.0) <= 0.5 and audio.channels == 2
    assert (tmp_path / "rainy.mid").read_bytes()[:4] == b"MThd"


def test_promptjam_make_explains_bad_input(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "make", "calm", "-d", "9999"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 2
    assert "Duration must be between" in proc.stderr
    assert "Traceback" not in proc.stderr
