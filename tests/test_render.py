"""The SoundFont renderer, its effects and the audio measurements, against the real TimGM6mb SoundFont."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from services.audio.analysis import SILENCE_DB, chroma_profile, pitch_class_energy_outside, rms_db
from services.audio.types import Audio
from services.render import effects
from services.render.soundfont import (
    SoundFontNotFound,
    SynthesizerUnavailable,
    find_soundfont,
    pretty_midi_soundfont,
    render_score,
)
from services.score.model import Note, Score, Track

SR = 44100
C_MAJOR = frozenset({0, 2, 4, 5, 7, 9, 11})
ODD_SET = frozenset({9, 11, 1, 6, 7})  # A, B, C#, F#, G


def band_energy(audio: Audio, lo: float, hi: float) -> float:
    """Fraction of the mono spectrum's energy between lo and hi Hz."""
    spectrum = np.abs(np.fft.rfft(audio.to_mono().astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(audio.frames, 1 / audio.sample_rate)
    return float(spectrum[(freqs >= lo) & (freqs < hi)].sum() / spectrum.sum())


def band_rms(audio: Audio, start_s: float, end_s: float) -> float:
    seg = audio.samples[:, int(start_s * audio.sample_rate) : int(end_s * audio.sample_rate)]
    return float(np.sqrt(np.mean(seg.astype(np.float64) ** 2)))


def band_score() -> Score:
    """Two bars of piano chords, a walking bass and a rock beat at 120 BPM."""
    piano = Track("piano", program=0, pan=-0.2)
    bass = Track("bass", program=33, pan=0.1)
    drums = Track("drums", is_drum=True)
    chords = [(60, 64, 67), (57, 60, 64)]
    for bar, chord in enumerate(chords):
        for pitch in chord:
            piano.notes.append(Note(pitch, bar * 4, 4, 80))
        for beat in range(4):
            bass.notes.append(Note(chord[0] - 24 + (beat % 2) * 7, bar * 4 + beat, 1, 95))
    for eighth in range(16):
        drums.notes.append(Note(42, eighth / 2, 0.25, 70))
        if eighth % 4 == 0:
            drums.notes.append(Note(36, eighth / 2, 0.25, 110))
        if eighth % 4 == 2:
            drums.notes.append(Note(38, eighth / 2, 0.25, 100))
    return Score(tempo_bpm=120, tracks=[piano, bass, drums], title="band")


def pitch_set_score(pcs: frozenset[int]) -> Score:
    """Chords, bass and a melody that use only the pitch classes in `pcs`."""
    ordered = sorted(pcs)
    piano, bass, lead = Track("piano", program=0), Track("bass", program=33), Track("flute", program=73)
    n = len(ordered)
    for i in range(16):
        for k in (0, 2, 4):
            octave = 12 * (((i + k) // n) % 2)
            piano.notes.append(Note(48 + ordered[(i + k) % n] + octave, i, 1, 80))
        bass.notes.append(Note(36 + ordered[(i * 2) % n], i, 1, 90))
        lead.notes.append(Note(72 + ordered[(i * 3) % n], i, 0.5, 85))
        lead.notes.append(Note(72 + ordered[(i * 3 + 1) % n], i + 0.5, 0.5, 85))
    return Score(tempo_bpm=120, tracks=[piano, bass, lead])


def single(track: Track, tempo: float = 120) -> Score:
    return Score(tempo_bpm=tempo, tracks=[track])


@pytest.fixture(scope="module")
def band_audio() -> Audio:
    return render_score(band_score())


def test_band_renders_stereo_44k_float32_of_the_right_length(band_audio: Audio) -> None:
    score = band_score()
    assert band_audio.sample_rate == SR
    assert band_audio.channels == 2
    assert band_audio.samples.dtype == np.float32
    assert band_audio.frames == round(score.duration_seconds() * SR) + round(1.5 * SR)


def test_band_is_audible_finite_and_unclipped(band_audio: Audio) -> None:
    assert np.all(np.isfinite(band_audio.samples))
    assert rms_db(band_audio) > -35.0
    assert float(np.max(np.abs(band_audio.samples))) < 0.95
    # Every second of the music itself has sound in it (no dropped events).
    for second in range(4):
        assert band_rms(band_audio, second, second + 1) > 1e-3


def test_a_piano_note_has_harmonics_and_decays_unlike_a_sine() -> None:
    audio = render_score(single(Track("piano", program=0, notes=[Note(57, 0, 6, 100)])), reverb=0.0)
    # A3 = 220 Hz: a sine would put everything in the fundamental's band.
    fundamental = band_energy(audio, 200, 240)
    overtones = band_energy(audio, 420, 2000)
    assert overtones > 0.1 * fundamental
    assert fundamental < 0.9
    # Struck strings fade while the key is held; a synthetic sustained tone would not.
    assert band_rms(audio, 0.05, 0.5) > 2.0 * band_rms(audio, 2.5, 3.0)


def test_instruments_sound_different_for_the_same_note() -> None:
    def render(program: int) -> Audio:
        return render_score(single(Track("x", program=program, notes=[Note(60, 0, 2, 100)])), reverb=0.0)

    piano, flute = render(0), render(73)
    assert not np.allclose(piano.samples, flute.samples, atol=1e-3)
    # A flute's tone is breathy and steady; the piano's hammer attack fades.
    assert band_rms(flute, 0.6, 0.9) / band_rms(flute, 0.05, 0.3) > band_rms(piano, 0.6, 0.9) / band_rms(
        piano, 0.05, 0.3
    )


@pytest.mark.parametrize(("position", "loud", "quiet"), [(-1.0, 0, 1), (1.0, 1, 0)])
def test_pan_puts_energy_on_the_expected_side(position: float, loud: int, quiet: int) -> None:
    track = Track("piano", program=0, pan=position, notes=[Note(60, 0, 2, 100), Note(64, 1, 2, 100)])
    audio = render_score(single(track), reverb=0.0)
    rms = np.sqrt(np.mean(audio.samples.astype(np.float64) ** 2, axis=1))
    assert rms[loud] > 8.0 * rms[quiet]


def test_centre_pan_is_balanced_and_constant_power() -> None:
    def rms(pan: float) -> np.ndarray:
        a = render_score(single(Track("p", program=0, pan=pan, notes=[Note(60, 0, 2, 100)])), reverb=0.0)
        return np.sqrt(np.mean(a.samples.astype(np.float64) ** 2, axis=1))

    centre, left = rms(0.0), rms(-1.0)
    assert centre[0] == pytest.approx(centre[1], rel=0.1)
    assert float(np.sum(centre**2)) == pytest.approx(float(np.sum(left**2)), rel=0.15)


def test_track_volume_scales_loudness() -> None:
    def level(volume: float) -> float:
        return rms_db(
            render_score(single(Track("p", volume=volume, notes=[Note(60, 0, 2, 100)])), reverb=0.0)
        )

    assert level(1.0) - level(0.25) > 6.0


def test_drums_play_from_the_percussion_bank() -> None:
    hits = [Note(49, beat, 0.5, 110) for beat in range(4)]  # key 49: crash cymbal on GM channel 10
    drums = render_score(single(Track("drums", is_drum=True, notes=list(hits))), reverb=0.0)
    piano = render_score(single(Track("piano", program=0, notes=list(hits))), reverb=0.0)  # C#3 on a piano
    assert rms_db(drums) > -45.0
    # A cymbal's energy is mostly high; the same key number on a piano is a low note.
    assert band_energy(drums, 4000, 20000) > 0.2
    assert band_energy(piano, 4000, 20000) < 0.05


def test_events_land_on_their_exact_sample() -> None:
    # Beat 1.5 at 90 BPM is exactly 1.0 s: nothing may sound before sample 44100, something right after.
    audio = render_score(single(Track("piano", notes=[Note(60, 1.5, 1, 110)]), tempo=90), reverb=0.0)
    onset = int(np.flatnonzero(np.any(audio.samples != 0, axis=0))[0])
    assert 44100 <= onset < 44100 + 32


def test_note_offs_release_notes() -> None:
    def render(beats: float) -> Audio:
        return render_score(single(Track("organ", program=19, notes=[Note(60, 0, beats, 100)])), reverb=0.0)

    short, held = render(0.5), render(4.0)  # an organ sustains until released
    assert band_rms(short, 1.0, 1.5) < 0.05 * band_rms(held, 1.0, 1.5)


def test_concurrent_renders_in_threads_match() -> None:
    reference = render_score(band_score(), reverb=0.0)
    results: list[Audio] = []
    threads = [
        threading.Thread(target=lambda: results.append(render_score(band_score(), reverb=0.0)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3
    assert all(np.array_equal(r.samples, reference.samples) for r in results)


def test_same_score_gives_identical_samples() -> None:
    first = render_score(band_score())
    second = render_score(band_score())
    assert np.array_equal(first.samples, second.samples)


def test_c_major_score_sounds_in_c_major() -> None:
    audio = render_score(pitch_set_score(C_MAJOR))
    chroma = chroma_profile(audio)
    assert chroma.sum() == pytest.approx(1.0)
    assert float(chroma[sorted(C_MAJOR)].sum()) > 0.90  # measured 0.95 with TimGM6mb


def test_five_note_set_puts_most_energy_in_its_pitch_classes() -> None:
    audio = render_score(pitch_set_score(ODD_SET))
    assert pitch_class_energy_outside(audio, ODD_SET) < 0.25  # measured 0.12 with TimGM6mb
    chroma = chroma_profile(audio)
    inside = [chroma[pc] for pc in ODD_SET]
    outside = [chroma[pc] for pc in range(12) if pc not in ODD_SET]
    assert min(inside) > 2.0 * max(outside)


def test_more_than_fifteen_melodic_tracks_share_channels_and_all_sound() -> None:
    tracks = [
        Track(
            f"part {i}",
            program=(i * 8) % 128,
            pan=-1.0 if i == 15 else 0.0,
            notes=[Note(48 + i, i * 0.5, 0.5)],
        )
        for i in range(16)
    ]
    audio = render_score(Score(tempo_bpm=120, tracks=tracks), reverb=0.0)
    for i in range(16):  # each part's half-beat slot (0.25 s) has sound
        assert band_rms(audio, i * 0.25 + 0.02, i * 0.25 + 0.2) > 1e-3


def test_reverb_adds_a_tail_and_keeps_length() -> None:
    score = single(Track("p", notes=[Note(60, 0, 0.5, 110)]))
    dry = render_score(score, reverb=0.0)
    wet = render_score(score, reverb=0.3)
    assert wet.frames == dry.frames
    assert band_rms(wet, 1.2, 1.7) > band_rms(dry, 1.2, 1.7)


def test_empty_score_renders_the_tail_as_silence() -> None:
    audio = render_score(Score(tempo_bpm=100, tracks=[Track("piano")]), tail_s=0.5)
    assert audio.frames == round(0.5 * SR)
    assert rms_db(audio) == SILENCE_DB


def test_progress_reports_every_tenth_and_can_cancel() -> None:
    calls: list[tuple[str, int, int]] = []
    render_score(band_score(), progress=lambda stage, step, total: calls.append((stage, step, total)))
    assert [step for _, step, _ in calls] == list(range(1, 11))
    assert {(stage, total) for stage, _, total in calls} == {("rendering", 10)}

    class Stop(Exception):
        pass

    def cancel(stage: str, step: int, total: int) -> None:
        if step == 3:
            raise Stop

    with pytest.raises(Stop):
        render_score(band_score(), progress=cancel)


def test_bad_tempo_is_refused() -> None:
    with pytest.raises(ValueError, match="tempo"):
        render_score(Score(tempo_bpm=0, tracks=[Track("p", notes=[Note(60, 0, 1)])]))


def test_find_soundfont_prefers_explicit_then_pretty_midi(tmp_path: Path) -> None:
    bundled = pretty_midi_soundfont()
    assert bundled is not None and bundled.is_file()
    assert find_soundfont(None) == bundled
    assert find_soundfont(bundled) == bundled
    missing = tmp_path / "nope.sf2"
    with pytest.raises(SoundFontNotFound, match="nope.sf2"):
        find_soundfont(missing)


def test_find_soundfont_lists_every_place_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.render import soundfont

    monkeypatch.setattr(soundfont, "pretty_midi_soundfont", lambda: Path("/nonexistent/TimGM6mb.sf2"))
    monkeypatch.setattr(soundfont, "DEBIAN_SOUNDFONTS", (Path("/nonexistent/FluidR3_GM.sf2"),))
    with pytest.raises(SoundFontNotFound) as info:
        find_soundfont(None)
    message = str(info.value)
    assert "/nonexistent/TimGM6mb.sf2" in message and "/nonexistent/FluidR3_GM.sf2" in message
    assert "SOUNDFONT_PATH" in message


def test_unreadable_soundfont_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sf2"
    junk.write_bytes(b"RIFF not really a soundfont")
    with pytest.raises(SoundFontNotFound, match="junk.sf2"):
        render_score(band_score(), soundfont=junk)


def test_missing_synthesiser_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tinysoundfont", None)
    with pytest.raises(SynthesizerUnavailable, match="pip install --no-deps tinysoundfont"):
        render_score(band_score())


# --- effects -----------------------------------------------------------------------------------------------


def test_pan_function_is_constant_power() -> None:
    mono = np.ones(100, dtype=np.float32)
    for position in (-1.0, -0.5, 0.0, 0.3, 1.0):
        stereo = effects.pan(mono, position)
        assert stereo.shape == (2, 100) and stereo.dtype == np.float32
        assert float(stereo[0, 0] ** 2 + stereo[1, 0] ** 2) == pytest.approx(1.0, abs=1e-5)
    assert effects.pan(mono, -1.0)[1, 0] == pytest.approx(0.0, abs=1e-6)
    both = np.ones((2, 10), dtype=np.float32)
    assert np.allclose(effects.pan(both, 0.0), both)


def test_reverb_ir_is_decorrelated_and_deterministic() -> None:
    ir = effects.impulse_response(SR)
    assert ir.shape[0] == 2
    assert abs(float(np.corrcoef(ir[0], ir[1])[0, 1])) < 0.1
    assert np.sum(ir[0].astype(np.float64) ** 2) == pytest.approx(1.0, rel=1e-3)
    click = np.zeros((2, SR), dtype=np.float32)
    click[:, 0] = 1.0
    out = effects.reverb(click, SR, mix=0.5)
    assert out.shape == click.shape
    assert np.array_equal(out, effects.reverb(click, SR, mix=0.5))
    assert not np.allclose(out[0, 1000:], out[1, 1000:])  # a wide tail, different on each side
    with pytest.raises(ValueError):
        effects.reverb(click, SR, mix=1.5)


# --- analysis ----------------------------------------------------------------------------------------------


def test_chroma_of_a_sine_is_its_pitch_class() -> None:
    t = np.arange(SR * 2) / SR
    a440 = Audio.from_array(0.5 * np.sin(2 * np.pi * 440.0 * t))
    chroma = chroma_profile(a440)
    assert int(np.argmax(chroma)) == 9
    assert chroma[9] > 0.95
    assert pitch_class_energy_outside(a440, {9}) < 0.05
    assert rms_db(a440) == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.05)


def test_silence_has_flat_zero_chroma_and_floor_level() -> None:
    quiet = Audio.from_array(np.zeros((2, SR), dtype=np.float32))
    assert np.all(chroma_profile(quiet) == 0)
    assert pitch_class_energy_outside(quiet, {0}) == 0.0
    assert rms_db(quiet) == SILENCE_DB
