"""The song backend (ACE-Step 1.5 on diffusers) end to end on a tiny random-weight model, saved with
save_pretrained and loaded with from_pretrained like the real one, and its "model missing" answers."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

pytest.importorskip("diffusers")

import torch  # noqa: E402

from services.audio.types import Audio  # noqa: E402
from services.backends import model_files  # noqa: E402
from services.backends.base import (  # noqa: E402
    STEMS,
    BackendUnavailable,
    Cancelled,
    GenerationRequest,
    SongRequest,
    no_progress,
)
from services.backends.song import backend as song_backend  # noqa: E402
from services.backends.song.backend import SPLICE_S, SongBackend, SongJob, check_range, render  # noqa: E402
from services.backends.song.config import SongConfig  # noqa: E402
from services.backends.song.pipeline import (  # noqa: E402
    LoadConfig,
    _pipeline_class,
    forget_pipelines,
    get_pipeline,
)
from services.errors import UserError  # noqa: E402
from tests.tiny_models import SONG_SAMPLE_RATE, build_tiny_song_model  # noqa: E402
from tests.tolerances import ITERATED_PATHS_RTOL  # noqa: E402

SR = SONG_SAMPLE_RATE
STEPS = 2
MISSING_HUB_ID = "promptjam-tests/no-such-song-model"


def song_config(model: str, **changes: Any) -> SongConfig:
    base = SongConfig(
        model=model,
        revision=None,
        device="cpu",
        dtype="auto",
        offload="none",
        steps=STEPS,
        guidance=7.0,
        shift=3.0,
        max_seconds=240,
        batch_size=4,
        batch_wait_ms=0,
        cover_strength=0.6,
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_song_model(tmp_path_factory.mktemp("tiny-ace-step"))


@pytest.fixture(scope="module")
def backend(model_dir: Path) -> SongBackend:
    forget_pipelines()
    return SongBackend(song_config(str(model_dir)))


@pytest.fixture(scope="module")
def pipe(backend: SongBackend) -> Any:
    return backend.pipeline()


@pytest.fixture(scope="module")
def song(backend: SongBackend) -> Audio:
    """A 12 s song of ours, as the source of covers, repaints, continuations and stems."""
    made = backend.sing(
        ask("rainy lofi piano, 80 bpm in A minor", 12, seed=3), words("hello rain"), None, no_progress
    )
    return made.audio


def ask(prompt: str, seconds: float | None, seed: int = 1, **more: Any) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, duration_s=seconds, seed=seed, **more)


def words(lyrics: str, **more: Any) -> SongRequest:
    return SongRequest(lyrics=f"[verse]\n{lyrics}", **more)


def close(actual: npt.NDArray[np.float32], expected: npt.NDArray[np.float32], what: str) -> None:
    """Two code paths (batched vs alone, spliced vs original) agree to float32 rounding of the peak."""
    assert actual.shape == expected.shape, f"{what}: shapes {actual.shape} vs {expected.shape}"
    scale = max(1.0, float(np.abs(expected).max()))
    error = float(np.abs(actual.astype(np.float64) - expected.astype(np.float64)).max())
    assert error <= ITERATED_PATHS_RTOL * scale, f"{what}: max |difference| {error:.3g} (scale {scale:.3g})"


def differs(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, int, int]] = []

    def __call__(self, stage: str, step: int, total: int) -> None:
        self.events.append((stage, step, total))


def job(pipe: Any, prompt: str, lyrics: str, seed: int, seconds: float = 12.0) -> SongJob:
    """A text2music pipeline item, bucketed the way the backend buckets one."""
    formatted = pipe.format_item(
        prompt, lyrics, "en", seconds, pipe._get_task_instruction("text2music"), None, None, None
    )
    return SongJob(
        prompt=prompt,
        lyrics=lyrics,
        language="en",
        seed=seed,
        duration_s=seconds,
        steps=STEPS,
        buckets=pipe.buckets([formatted[0]], [formatted[1]]),
    )


def token_count(pipe: Any, text: str) -> int:
    return len(pipe.tokenizer(text).input_ids)


# ---- loading --------------------------------------------------------------------------------------


def test_loads_the_saved_folder_with_from_pretrained_offline(
    model_dir: Path, pipe: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from diffusers import AceStepPipeline

    assert (model_dir / "model_index.json").is_file()
    assert isinstance(pipe, AceStepPipeline) and type(pipe).__name__ == "SongPipeline"
    assert str(pipe.device) == "cpu" and pipe.dtype == torch.float32
    assert pipe.sample_rate == SR
    assert not pipe.transformer.training and not any(p.requires_grad for p in pipe.transformer.parameters())

    cls = _pipeline_class()
    original = cls.from_pretrained.__func__
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def spy(klass: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append((args, kwargs))
        return original(klass, *args, **kwargs)

    monkeypatch.setattr(cls, "from_pretrained", classmethod(spy))
    other = SongBackend(song_config(str(model_dir), dtype="float32"))  # another LoadConfig: a fresh load
    loaded = other.pipeline()
    assert other.pipeline() is loaded and len(calls) == 1  # loaded once, then shared
    (args, kwargs) = calls[0]
    assert args == (str(model_dir),) and kwargs["local_files_only"] is True  # never the network
    assert loaded is not pipe
    # the weights came from the folder (a fresh random init would differ between the two loads)
    for (name, mine), theirs in zip(
        loaded.transformer.state_dict().items(), pipe.transformer.state_dict().values(), strict=True
    ):
        assert torch.equal(mine, theirs), name
    assert get_pipeline(LoadConfig(str(model_dir), None, "cpu", "float32", "none")) is loaded


def test_ready_when_the_folder_is_a_saved_model(model_dir: Path) -> None:
    status = SongBackend(song_config(str(model_dir))).available()
    assert status.available and status.name == "song"
    assert status.reason == f"ready ({model_dir})"


def test_missing_folder_a_file_or_no_model_index_say_what_to_set(tmp_path: Path) -> None:
    missing = SongBackend(song_config(str(tmp_path / "nope"))).available()
    assert not missing.available
    assert missing.reason.startswith("song: ")
    assert "does not exist" in missing.reason and "ACESTEP_MODEL" in missing.reason

    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"not a folder")
    a_file = SongBackend(song_config(str(weights))).available()
    assert not a_file.available
    assert "is a file" in a_file.reason and "ACESTEP_MODEL" in a_file.reason

    empty = tmp_path / "empty"
    empty.mkdir()
    no_index = SongBackend(song_config(str(empty))).available()
    assert not no_index.available
    assert "model_index.json" in no_index.reason and "ACESTEP_MODEL" in no_index.reason


def test_hub_id_not_in_the_cache_is_not_downloaded(tmp_path: Path) -> None:
    backend = SongBackend(song_config(MISSING_HUB_ID))
    status = backend.available()
    assert not status.available
    assert status.reason == (
        f"song: the model {MISSING_HUB_ID} is not downloaded: "
        f"run `huggingface-cli download {MISSING_HUB_ID}` or set ACESTEP_MODEL to a local folder"
    )
    pinned = SongBackend(song_config(MISSING_HUB_ID, revision="abc123")).available()
    assert "at revision abc123" in pinned.reason and "ACESTEP_MODEL" in pinned.reason
    with pytest.raises(BackendUnavailable, match="ACESTEP_MODEL"):
        backend.sing(ask("lofi", 12), words("hello"), None, no_progress)


def test_missing_packages_say_how_to_install(monkeypatch: pytest.MonkeyPatch, model_dir: Path) -> None:
    monkeypatch.setattr(model_files, "missing_packages", lambda names=(): ["diffusers"])
    status = SongBackend(song_config(str(model_dir))).available()
    assert not status.available
    assert "diffusers" in status.reason and "scripts/install.sh --gpu" in status.reason


# ---- text to music --------------------------------------------------------------------------------


def spy_on_metadata(pipe: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Records (prompt, bpm, keyscale, timesignature, formatted text) of every item the pipeline encodes."""
    seen: list[tuple[Any, ...]] = []
    original = pipe.format_item

    def format_item(
        prompt: str,
        lyrics: str,
        language: str,
        duration_s: float,
        instruction: str,
        bpm: Any,
        keyscale: Any,
        timesignature: Any,
    ) -> tuple[str, str]:
        out = original(prompt, lyrics, language, duration_s, instruction, bpm, keyscale, timesignature)
        seen.append((prompt, bpm, keyscale, timesignature, out[0]))
        return out  # type: ignore[no-any-return]

    monkeypatch.setattr(pipe, "format_item", format_item)
    return seen


def test_text_to_music_sings_the_stated_tempo_key_metre_and_length(
    backend: SongBackend, pipe: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = spy_on_metadata(pipe, monkeypatch)
    lyrics = "[verse]\nhello rain\non the window\n\n[chorus]\nla la la"
    g = backend.sing(
        ask("rainy lofi piano, 80 bpm in A minor", 12, seed=3),
        SongRequest(lyrics=lyrics, beats_per_bar=3),
        None,
        no_progress,
    )
    assert g.audio.sample_rate == SR and g.audio.channels == 2 and g.audio.frames == 12 * SR
    assert g.duration_s == pytest.approx(12.0)
    assert np.isfinite(g.audio.samples).all() and np.abs(g.audio.samples).max() > 0.5
    assert g.tempo_bpm == 80 and g.key == "A minor" and g.time_signature == "3/4"
    assert g.lyrics == lyrics and g.task == "sing" and g.notes == []
    assert "lyrics: sung in English" in g.summary
    assert "asked the model for: tempo 80 bpm, key A minor, metre 3/4, 12 s" in g.summary
    # what was asked reached the model's conditioning, in ACE-Step's terms
    encoded = [item for item in seen if item[0] == "rainy lofi piano, 80 bpm in A minor"]
    assert encoded and all(item[1:4] == (80, "A minor", "3") for item in encoded)
    assert "- bpm: 80" in encoded[-1][4] and "- keyscale: A minor" in encoded[-1][4]
    assert "- timesignature: 3" in encoded[-1][4] and "- duration: 12 seconds" in encoded[-1][4]


def test_options_win_over_the_prompt(
    backend: SongBackend, pipe: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = spy_on_metadata(pipe, monkeypatch)
    g = backend.sing(
        ask("rainy lofi piano, 80 bpm in A minor, 30 seconds", 12, bpm=100, key="D major"),
        words("hello"),
        None,
        no_progress,
    )
    assert g.tempo_bpm == 100 and g.key == "D major" and g.audio.frames == 12 * SR
    assert "asked the model for: tempo 100 bpm, key D major, metre: its own, 12 s" in g.summary
    assert seen and seen[-1][1:4] == (100, "D major", None)


def test_a_prompt_that_states_nothing_leaves_tempo_key_and_metre_to_the_model(
    backend: SongBackend, pipe: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = spy_on_metadata(pipe, monkeypatch)
    g = backend.sing(ask("dreamy ambient pads", 12), words("float away"), None, no_progress)
    assert g.tempo_bpm is None and g.key is None and g.time_signature is None
    assert "asked the model for: tempo: its own, key: its own, metre: its own, 12 s" in g.summary
    assert seen and seen[-1][1:4] == (None, None, None)
    assert "- bpm: N/A" in seen[-1][4] and "- keyscale: N/A" in seen[-1][4]


def test_the_prompt_states_the_length_when_no_option_does(backend: SongBackend) -> None:
    g = backend.sing(ask("upbeat pop, 15 seconds", None), words("yeah"), None, no_progress)
    assert g.audio.frames == 15 * SR
    assert any(line.endswith(", 15 s") for line in g.summary)


def test_words_alone_make_an_instrumental(backend: SongBackend) -> None:
    g = backend.generate(ask("dusty jazz drums", 12), no_progress)
    assert g.audio.frames == 12 * SR and g.lyrics is None
    assert "lyrics: instrumental" in g.summary


def test_too_long_is_clamped_and_too_short_is_raised_with_a_note(model_dir: Path) -> None:
    short_limit = SongBackend(song_config(str(model_dir), max_seconds=14))
    long = short_limit.sing(ask("lofi", 30), words("hi"), None, no_progress)
    assert long.audio.frames == 14 * SR
    assert long.notes == ["Asked for 30 s; songs here are at most 14 s."]
    short = short_limit.sing(ask("lofi", 4), words("hi"), None, no_progress)
    assert short.audio.frames == 10 * SR
    assert short.notes == ["Asked for 4 s; ACE-Step sings at least 10 s."]


def test_progress_reports_each_denoising_step(backend: SongBackend) -> None:
    progress = Recorder()
    backend.sing(ask("lofi", 12), words("hello"), None, progress)
    assert progress.events[0] == ("reading the prompt", 0, 1)
    denoising = [e for e in progress.events if e[0] == "denoising"]
    assert denoising == [("denoising", k, STEPS) for k in range(1, STEPS + 1)]


def test_cancelling_from_progress_stops_the_job_and_the_backend_carries_on(backend: SongBackend) -> None:
    def cancel(stage: str, step: int, total: int) -> None:
        if stage == "denoising":
            raise Cancelled("stopped by the user")

    with pytest.raises(Cancelled):
        backend.sing(ask("lofi", 12), words("hello"), None, cancel)
    after = backend.sing(ask("lofi", 12), words("hello"), None, no_progress)
    assert after.audio.frames == 12 * SR


# ---- batching and determinism ---------------------------------------------------------------------


def test_a_batched_item_equals_the_item_run_alone(pipe: Any) -> None:
    # a and b share a seed, so what tells them apart is their own prompt and lyrics; the texts' lengths
    # differ, so each is padded in company to a length it would not have alone
    a = job(pipe, "rainy lofi piano, 80 bpm", "[verse]\nhello rain", seed=3)
    b = job(pipe, "metal!", "[chorus]\nscream it loud, all night - 1, 2, 3, 4!", seed=3)
    c = job(pipe, "sunny bossa nova at a beach, 3 a.m.", "[verse]\nla la", seed=5)
    assert a.batch_key() == b.batch_key() == c.batch_key()  # one bucket, so one call
    lengths = {(token_count(pipe, item.prompt), token_count(pipe, item.lyrics)) for item in (a, b, c)}
    assert len(lengths) == 3
    batched = render(pipe, [a, b, c])
    assert len(batched) == 3 and all(out.shape == (2, 12 * SR) for out in batched)
    for item, together in zip((a, b, c), batched, strict=True):
        close(together, render(pipe, [item])[0], f"{item.prompt} batched vs alone")
    assert differs(batched[0], batched[1]) > 1e-3  # same seed: the words alone tell them apart
    assert differs(batched[1], batched[2]) > 1e-2


def test_concurrent_songs_share_one_call_and_each_equals_its_solo_run(model_dir: Path) -> None:
    shared = SongBackend(song_config(str(model_dir), batch_size=2, batch_wait_ms=5000))
    batcher = shared.batcher()  # the model is loaded before the threads start
    asks = [
        (ask("rainy lofi piano, 80 bpm", 12, seed=11), words("hello rain")),
        (ask("sunny bossa nova at a beach, 3 a.m.", 12, seed=12), words("la la la, by the sea!")),
    ]
    results: dict[int, Any] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(asks))

    def sing(index: int) -> None:
        try:
            start.wait()
            request, lyrics = asks[index]
            results[index] = shared.sing(request, lyrics, None, no_progress)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=sing, args=(i,)) for i in range(len(asks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert batcher.batches_run == 1  # both jobs ran in one pipeline call

    alone = SongBackend(song_config(str(model_dir)))
    for index, (request, lyrics) in enumerate(asks):
        solo = alone.sing(request, lyrics, None, no_progress)
        close(results[index].audio.samples, solo.audio.samples, f"song {index} batched vs alone")
    assert differs(results[0].audio.samples, results[1].audio.samples) > 1e-2


def test_the_same_seed_makes_the_same_song(backend: SongBackend) -> None:
    first = backend.sing(ask("lofi piano", 12, seed=21), words("hello"), None, no_progress)
    torch.manual_seed(999)  # the global generator plays no part
    again = backend.sing(ask("lofi piano", 12, seed=21), words("hello"), None, no_progress)
    other = backend.sing(ask("lofi piano", 12, seed=22), words("hello"), None, no_progress)
    np.testing.assert_array_equal(again.audio.samples, first.audio.samples)
    assert differs(other.audio.samples, first.audio.samples) > 1e-2


# ---- tasks on audio -------------------------------------------------------------------------------


def test_a_cover_keeps_the_source_length_and_repeats_from_its_seed(backend: SongBackend, song: Audio) -> None:
    cover = SongRequest(task="cover", lyrics="[verse]\nnew words")
    first = backend.sing(ask("make it jazz", None, seed=5), cover, song, no_progress)
    assert first.audio.frames == song.frames and first.audio.sample_rate == SR
    assert np.isfinite(first.audio.samples).all() and np.abs(first.audio.samples).max() > 0.5
    assert first.task == "cover" and "cover of your audio, 60% of its shape kept" in first.summary
    torch.manual_seed(1234)  # encoding the source must not draw from the global generator
    again = backend.sing(ask("make it jazz", None, seed=5), cover, song, no_progress)
    np.testing.assert_array_equal(again.audio.samples, first.audio.samples)
    # the source matters: the same seed and words over other audio make another cover
    reversed_song = Audio(np.ascontiguousarray(song.samples[:, ::-1]), song.sample_rate)
    other = backend.sing(ask("make it jazz", None, seed=5), cover, reversed_song, no_progress)
    assert differs(other.audio.samples, first.audio.samples) > 1e-3


def test_a_cover_of_an_asked_length(backend: SongBackend, song: Audio) -> None:
    made = backend.sing(
        ask("make it jazz", 15, seed=5), SongRequest(task="cover", lyrics=""), song, no_progress
    )
    assert made.audio.frames == 15 * SR and made.lyrics is None


def test_a_repaint_keeps_the_original_outside_the_range(backend: SongBackend, song: Audio) -> None:
    start, end = 4.0, 8.0
    request = SongRequest(
        task="repaint", lyrics="[chorus]\nbrand new line", repaint_start_s=start, repaint_end_s=end
    )
    made = backend.sing(ask("rainy lofi piano", None, seed=8), request, song, no_progress)
    assert made.audio.frames == song.frames and made.audio.sample_rate == SR
    assert "repainted 0:04–0:08; the rest is the original" in made.summary
    margin = int((SPLICE_S / 2 + 0.05) * SR)  # clear of the crossfades centred on the seams
    a, b = int(start * SR), int(end * SR)
    close(made.audio.samples[:, : a - margin], song.samples[:, : a - margin], "before the range")
    close(made.audio.samples[:, b + margin :], song.samples[:, b + margin :], "after the range")
    assert (
        differs(made.audio.samples[:, a + margin : b - margin], song.samples[:, a + margin : b - margin])
        > 0.05
    )


def test_a_repaint_of_a_short_clip_keeps_its_length_and_says_so(backend: SongBackend) -> None:
    clip = Audio(np.random.default_rng(0).uniform(-0.5, 0.5, (2, 3 * SR)).astype(np.float32), SR)
    request = SongRequest(task="repaint", lyrics="", repaint_start_s=1.0, repaint_end_s=2.0)
    made = backend.sing(ask("lofi", None), request, clip, no_progress)
    assert made.audio.frames == clip.frames
    assert made.notes == []  # a source task sings the source's length; nothing was raised to 10 s
    assert any(line.startswith("asked the model for:") and line.endswith(", 3 s") for line in made.summary)


def test_repaint_ranges_are_checked(backend: SongBackend, song: Audio) -> None:
    with pytest.raises(UserError, match="Say which part to repaint"):
        check_range(None, 5.0, 12.0)
    with pytest.raises(UserError, match="Say which part to repaint"):
        check_range(2.0, None, 12.0)
    with pytest.raises(UserError, match="must start before it ends"):
        check_range(5.0, 5.0, 12.0)
    with pytest.raises(UserError, match="must start before it ends"):
        check_range(6.0, 3.0, 12.0)
    with pytest.raises(UserError, match=r"only 0:12 long, so a repaint can't start at 0:20"):
        check_range(20.0, 25.0, 12.0)
    with pytest.raises(UserError, match="at least 1 s long"):
        check_range(3.0, 3.5, 12.0)
    with pytest.raises(UserError, match="at least 1 s long"):
        check_range(11.5, 30.0, 12.0)  # clamped to the end, leaving half a second
    assert check_range(5.0, 100.0, 12.0) == (5.0, 12.0)
    before = backend.batcher().batches_run
    with pytest.raises(UserError, match="Say which part to repaint"):
        backend.sing(ask("lofi", None), SongRequest(task="repaint", lyrics=""), song, no_progress)
    assert backend.batcher().batches_run == before  # refused before any model work
    with pytest.raises(UserError, match="needs audio"):
        backend.sing(ask("lofi", None), SongRequest(task="cover", lyrics=""), None, no_progress)


def test_extend_keeps_the_song_and_adds_the_asked_seconds(backend: SongBackend, song: Audio) -> None:
    made = backend.sing(
        ask("rainy lofi piano", None, seed=9),
        SongRequest(task="extend", lyrics="", extend_s=10),
        song,
        no_progress,
    )
    assert made.audio.frames == song.frames + 10 * SR and made.notes == []
    assert "continued for 10 s after 0:12 of the song" in made.summary
    keep = song.frames - int((SPLICE_S / 2 + 0.05) * SR)
    close(made.audio.samples[:, :keep], song.samples[:, :keep], "the song before the seam")
    assert np.abs(made.audio.samples[:, song.frames + SR :]).max() > 0.05  # the continuation is not silence


def test_extend_past_the_limit_follows_the_end_of_the_song(backend: SongBackend, song: Audio) -> None:
    made = backend.sing(
        ask("rainy lofi piano", None, seed=9, max_duration_s=20),
        SongRequest(task="extend", lyrics="", extend_s=10),
        song,
        no_progress,
    )
    assert made.audio.frames == 20 * SR
    assert made.notes == [
        "The song plus 10 s would pass the 20 s limit, so the continuation follows its last 10 s."
    ]
    keep = 10 * SR - int((SPLICE_S / 2 + 0.05) * SR)
    close(made.audio.samples[:, :keep], song.samples[:, 2 * SR : 2 * SR + keep], "the song's last 10 s")


def test_stems_split_a_song_into_four_parts_of_its_length(
    backend: SongBackend, pipe: Any, song: Audio, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = spy_on_metadata(pipe, monkeypatch)
    made = backend.sing(
        ask("rainy lofi piano", None, seed=2), SongRequest(task="stems", lyrics=""), song, no_progress
    )
    assert tuple(made.stems) == STEMS == ("vocals", "drums", "bass", "other")
    for name, stem in made.stems.items():
        assert stem.sample_rate == SR and stem.channels == 2 and stem.frames == song.frames, name
        assert np.isfinite(stem.samples).all() and np.abs(stem.samples).max() > 0, name
    np.testing.assert_array_equal(made.audio.samples, song.samples)  # the reply's audio is the song itself
    assert made.title.startswith("Stems of ") and made.lyrics is None
    assert any(line.startswith("stems: vocals, drums, bass, other") for line in made.summary)
    # each ACE-Step track behind the four stems was asked for by name
    asked = " ".join(item[4] for item in seen)
    for track in ("VOCALS", "DRUMS", "BASS", "GUITAR", "KEYBOARD", "STRINGS", "SYNTH"):
        assert f"Extract the {track} track from the audio:" in asked, track


def test_the_other_stem_is_guitar_keys_strings_and_synth_together(
    model_dir: Path, song: Audio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The summing, with a stand-in for the model (the tiny tokenizer reads every track name alike)."""
    level = {
        "VOCALS": 1.0,
        "DRUMS": 2.0,
        "BASS": 4.0,
        "GUITAR": 8.0,
        "KEYBOARD": 16.0,
        "STRINGS": 32.0,
        "SYNTH": 64.0,
    }
    calls: list[int] = []

    def fake_render(pipe: Any, jobs: Any, on_step: Any = None) -> list[npt.NDArray[np.float32]]:
        calls.append(len(jobs))
        outs = []
        for item in jobs:
            assert item.task == "extract" and item.source is not None
            track = next(name for name in level if f" {name} " in item.instruction)
            outs.append(np.full(item.source.shape, level[track] / 1000, dtype=np.float32))
        return outs

    monkeypatch.setattr(song_backend, "render", fake_render)
    made = SongBackend(song_config(str(model_dir))).sing(
        ask("x", None), SongRequest(task="stems", lyrics=""), song, no_progress
    )
    assert sum(calls) == 7  # vocals, drums, bass and the four tracks of "other"
    expected = {"vocals": 1.0, "drums": 2.0, "bass": 4.0, "other": 8.0 + 16.0 + 32.0 + 64.0}
    for name, value in expected.items():
        np.testing.assert_allclose(made.stems[name].samples, value / 1000, rtol=1e-6, err_msg=name)
