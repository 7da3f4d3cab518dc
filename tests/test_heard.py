"""Measuring what a piece sounds like: synthetic clicks and chords with known truth, and styles pieces."""

from __future__ import annotations

import io
from pathlib import Path

import mido
import numpy as np
import pytest

from services.audio.types import Audio
from services.backends.base import GenerationRequest, no_progress
from services.backends.registry import get_backend
from services.heard.measure import measure
from services.heard.report import asked_heard_lines
from services.heard.tempo import octave_error
from services.heard.types import Heard
from services.jobs.kinds.piece import Piece
from tests.conftest import make_settings

RATE = 44_100


def clicks(bpm: float, seconds: float = 20.0, *, accent: bool = True) -> Audio:
    """Short noise bursts on every beat (the downbeat louder): a drum machine's metronome."""
    rng = np.random.default_rng(7)
    out = np.zeros(int(seconds * RATE), np.float32)
    burst = (rng.standard_normal(int(0.03 * RATE)) * np.exp(-np.linspace(0, 8, int(0.03 * RATE)))).astype(
        np.float32
    )
    beat = 60.0 / bpm
    for k in range(int(seconds / beat)):
        start = int(round(k * beat * RATE))
        gain = 0.9 if accent and k % 4 == 0 else 0.5
        out[start : start + burst.size] += gain * burst[: out.size - start]
    return Audio.from_array(out, RATE)


def chords(tonic: int, minor: bool, seconds: float = 16.0) -> Audio:
    """I–IV–V–I (i–iv–V–i in minor) as sustained triads of harmonic tones, two seconds a chord."""
    third = 3 if minor else 4
    progression = [(0, third, 7), (5, 5 + third, 12), (7, 11, 14), (0, third, 7)]
    t = np.arange(int(2.0 * RATE)) / RATE
    envelope = np.minimum(1.0, t / 0.05) * np.exp(-t * 0.6)
    parts = []
    for _ in range(int(seconds / 8)):
        for chord in progression:
            tone = np.zeros_like(t)
            for step in chord:
                freq = 220.0 * 2 ** ((tonic - 9 + step) / 12.0)
                tone += sum(np.sin(2 * np.pi * freq * h * t) / h for h in (1, 2, 3))
            parts.append(0.15 * tone * envelope)
    return Audio.from_array(np.concatenate(parts).astype(np.float32), RATE)


@pytest.mark.parametrize("bpm", [72.0, 100.0, 128.0, 150.0])
def test_a_click_track_is_heard_at_its_tempo_with_drums(bpm: float) -> None:
    heard = measure(clicks(bpm), stated_bpm=bpm)
    assert heard.tempo_bpm is not None and abs(heard.tempo_bpm - bpm) <= 0.5
    assert heard.drums
    assert abs(heard.duration_s - 20.0) < 1e-6


def test_without_a_stated_tempo_the_level_is_still_the_beat_or_named_as_another_level() -> None:
    heard = measure(clicks(100.0))
    assert heard.tempo_bpm is not None
    assert abs(heard.tempo_bpm - 100.0) <= 0.5 or octave_error(heard.tempo_bpm, 100.0)
    assert any(abs(level - 100.0) <= 0.5 for level in heard.tempo_levels)


@pytest.mark.parametrize(
    ("tonic", "minor", "name"), [(2, False, "D major"), (9, True, "A minor"), (7, False, "G major")]
)
def test_chords_are_heard_in_their_key_without_drums(tonic: int, minor: bool, name: str) -> None:
    heard = measure(chords(tonic, minor))
    assert heard.key == name
    assert not heard.drums


@pytest.mark.parametrize(("prompt", "seed"), [("funky groove, no drums", 13), ("happy reggae, no drums", 59)])
def test_bright_plucked_instruments_are_not_heard_as_drums(tmp_path: Path, prompt: str, seed: int) -> None:
    """A clavinet and slap bass (funk), a guitar's skank (reggae): sharp attacks with partials past 9 kHz,
    hits to a harmonic/percussive split, but pitched: their spectrum is a comb, not a drum's noise (these
    two were heard as drums before the flatness test)."""
    settings = make_settings(tmp_path, embeddings_enabled=False)
    piece = get_backend("styles", settings).generate(
        GenerationRequest(prompt=prompt, duration_s=20, seed=seed), no_progress
    )
    assert piece.midi is not None
    drum_notes = [
        m
        for track in mido.MidiFile(file=io.BytesIO(piece.midi)).tracks
        for m in track
        if m.type == "note_on" and m.channel == 9
    ]
    assert not drum_notes
    assert measure(piece.audio).drums is False


def test_drums_are_not_claimed_for_audio_made_at_a_low_rate() -> None:
    low = Audio.from_array(clicks(120.0).to_mono()[::4].copy(), RATE // 4)  # 11 kHz: no cymbal band
    heard = measure(low, stated_bpm=120.0)
    assert heard.drums is None and heard.percussive_share is None
    assert not [
        line for line in asked_heard_lines(heard, tempo=120.0, key=None, drums=True) if "drums" in line
    ]


def test_silence_has_no_tempo_no_key_and_no_drums() -> None:
    heard = measure(Audio(np.zeros((2, RATE * 5), np.float32), RATE))
    assert heard.tempo_bpm is None and heard.key is None and not heard.drums


def test_energy_outside_a_stated_pitch_set() -> None:
    piece = chords(0, False)  # C major triads: C E G, F A C, G B D
    inside = measure(piece, pitch_set={0, 2, 4, 5, 7, 9, 11})
    pentatonic = measure(piece, pitch_set={0, 2, 4, 7, 9})  # no F, no B
    assert inside.outside_share is not None and inside.outside_share < 0.05
    assert pentatonic.outside_share is not None and pentatonic.outside_share > 0.1


def test_octave_errors_are_named_apart_from_misses() -> None:
    assert octave_error(140.0, 70.0) and octave_error(35.0, 70.0) and octave_error(105.0, 70.0)
    assert not octave_error(74.0, 70.0) and not octave_error(70.0, 70.0)


@pytest.mark.parametrize(
    ("prompt", "bpm", "key", "drums"),
    [
        ("lofi hip hop with drums", 84, "D minor", True),
        ("techno with drums", 140, "A minor", True),
        ("waltz piano, no drums", 96, "F major", False),
    ],
)
def test_styles_pieces_are_heard_as_their_score_says(
    tmp_path: Path, prompt: str, bpm: int, key: str, drums: bool
) -> None:
    settings = make_settings(tmp_path, embeddings_enabled=False)
    piece = get_backend("styles", settings).generate(
        GenerationRequest(prompt=prompt, duration_s=20, seed=1, bpm=bpm, key=key), no_progress
    )
    heard = measure(piece.audio, stated_bpm=bpm)
    assert heard.tempo_bpm is not None and abs(heard.tempo_bpm - bpm) <= 1.0
    assert heard.key == key
    assert heard.drums is drums


def _heard(tempo: float | None, key: str | None, drums: bool = True) -> Heard:
    return Heard(20.0, -14.0, tempo, 0.8, (), key, 0.1, (), drums, 0.2)


def test_asked_heard_lines_say_what_matched_and_never_claim_the_unmeasured() -> None:
    assert asked_heard_lines(_heard(92.2, "D minor"), tempo=92, key="D minor")[:2] == [
        "tempo 92 bpm → heard 92 ✓",
        "key D minor → heard D minor ✓",
    ]
    assert asked_heard_lines(_heard(184.0, "F major"), tempo=92, key="D minor")[:2] == [
        "tempo 92 bpm → heard 184 (double time) ✗",
        "key D minor → heard F major ✗",
    ]
    assert asked_heard_lines(_heard(None, None), tempo=70, key="Eb minor")[:2] == [
        "tempo 70 bpm → no steady beat heard",
        "key Eb minor → heard no clear key ✗",
    ]
    assert "key D# minor → heard Eb minor ✓" in asked_heard_lines(
        _heard(None, "Eb minor"), tempo=None, key="D# minor"
    )
    assert asked_heard_lines(_heard(120.0, "C major"), tempo=None, key=None)[:2] == [
        "tempo → heard 120 bpm",
        "key → heard C major",
    ]


def test_a_key_the_audio_fits_as_well_as_the_reading_is_not_called_a_miss() -> None:
    ambiguous = Heard(8.0, -14.0, 72.0, 0.8, (), "D minor", 0.004, ("A minor",), False, 0.0)
    assert "key A minor → heard A minor ✓ (it fits D minor as well)" in asked_heard_lines(
        ambiguous, tempo=None, key="A minor"
    )
    assert "key G major → heard D minor ✗" in asked_heard_lines(ambiguous, tempo=None, key="G major")


def test_a_score_rendered_at_another_tempo_than_it_says_is_logged_as_a_bug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from services.jobs.finish import _hear

    audio = clicks(100.0)
    honest = Piece(audio=audio, title="t", name="t", length_s=20.0, tempo_bpm=100.0, midi=b"MThd")
    wrong = Piece(audio=audio, title="t", name="t", length_s=20.0, tempo_bpm=120.0, midi=b"MThd")
    with caplog.at_level("WARNING", logger="services.jobs.finish"):
        _, heard, lines, _ = _hear(honest, audio, "j1")
        assert heard is not None and lines[0] == "tempo 100 bpm → heard 100 ✓"
        assert not caplog.records
        _, _, lines, _ = _hear(wrong, audio, "j2")
    assert lines[0].startswith("tempo 120 bpm → heard 100") and lines[0].endswith("✗")
    assert any("j2" in r.getMessage() and "render was heard at" in r.getMessage() for r in caplog.records)


def _model_piece(audio: Audio, *, tempo: float | None = None, key: str | None = None) -> Piece:
    return Piece(audio=audio, title="t", name="t", length_s=audio.duration, tempo_bpm=tempo, key=key)


def test_a_piece_at_100_bpm_asked_as_104_comes_back_at_104_and_the_same_length_in_beats() -> None:
    from services.jobs.finish import _hear

    audio, heard, lines, notes = _hear(
        _model_piece(clicks(100.0), tempo=104.0), clicks(100.0), "c1", correct=True
    )
    assert heard is not None and heard.tempo_bpm is not None and abs(heard.tempo_bpm - 104.0) <= 0.5
    beats_before, beats_after = 20.0 * 100.0 / 60.0, audio.duration * 104.0 / 60.0
    assert abs(beats_after - beats_before) <= 0.1  # the same music, faster: the same number of beats
    assert lines[0] == "tempo 104 bpm → heard 104 ✓ (stretched from 100 bpm)" and not notes


def test_a_piece_a_tone_off_comes_back_in_the_stated_key() -> None:
    from services.jobs.finish import _hear

    c_major = chords(0, False)
    audio, heard, lines, notes = _hear(_model_piece(c_major, key="D major"), c_major, "c2", correct=True)
    assert heard is not None and heard.key == "D major"
    assert abs(audio.duration - c_major.duration) <= 0.05  # shifted, not stretched
    assert "key D major → heard D major ✓ (shifted from C major)" in lines and not notes


def test_a_piece_20_percent_off_is_reported_not_silently_stretched() -> None:
    from services.jobs.finish import _hear

    slow = clicks(100.0)
    audio, heard, lines, notes = _hear(_model_piece(slow, tempo=125.0), slow, "c3", correct=True)
    assert audio is slow  # nothing was changed
    assert heard is not None and heard.tempo_bpm is not None and abs(heard.tempo_bpm - 100.0) <= 0.5
    assert lines[0].endswith("✗")
    assert len(notes) == 1 and "25% off" in notes[0] and "Reroll" in notes[0]


def test_a_modal_key_is_heard_by_its_colour() -> None:
    lydian = Heard(20.0, -14.0, 61.0, 0.8, (), "G major", 0.1, (), False, 0.0)
    assert "key G lydian → heard G major ✓" in asked_heard_lines(lydian, tempo=None, key="G lydian")
    dorian = Heard(20.0, -14.0, 61.0, 0.8, (), "D minor", 0.1, (), False, 0.0)
    assert "key D dorian → heard D minor ✓" in asked_heard_lines(dorian, tempo=None, key="D dorian")
