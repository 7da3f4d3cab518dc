"""Standard MIDI export and import: what a sequencer sees, and lossless round trips."""

from __future__ import annotations

import io

import mido
import pytest

from services.errors import UserError
from services.score.midi import (
    DRUM_CHANNEL,
    cc_to_pan,
    key_signature_name,
    midi_to_score,
    pan_to_cc,
    plan_channels,
    score_to_midi,
)
from services.score.model import Note, Score, Track
from services.score.theory import Key


def demo_score() -> Score:
    return Score(
        tempo_bpm=96,
        time_signature=(3, 4),
        key=Key.parse("F# minor"),
        title="waltz",
        length_beats=14.0,
        tracks=[
            Track(
                "piano",
                program=0,
                pan=-0.5,
                volume=0.75,
                notes=[Note(66, 0, 1, 90), Note(69, 0, 1, 80), Note(73, 1.5, 0.5, 70), Note(66, 1, 2, 100)],
            ),
            Track("bass", program=33, pan=0.25, volume=1.0, notes=[Note(42, 0, 3, 100), Note(49, 3, 3, 95)]),
            Track("drums", is_drum=True, notes=[Note(36, 0, 0.25, 120), Note(42, 1, 0.25, 60)]),
            Track("strings", program=48, notes=[Note(54, 6, 6, 64), Note(54, 12, 0.125, 64)]),
        ],
    )


def parse(data: bytes) -> mido.MidiFile:
    return mido.MidiFile(file=io.BytesIO(data))


def notes_of(track: Track) -> list[tuple[int, float, float, int]]:
    return sorted((n.pitch, n.start, n.duration, n.velocity) for n in track.notes)


def test_file_is_type_1_with_conductor_meta() -> None:
    mid = parse(score_to_midi(demo_score()))
    assert mid.type == 1
    assert len(mid.tracks) == 5  # conductor + one per score track
    meta = {msg.type: msg for msg in mid.tracks[0] if msg.is_meta}
    assert meta["set_tempo"].tempo == round(60_000_000 / 96)
    assert (meta["time_signature"].numerator, meta["time_signature"].denominator) == (3, 4)
    assert meta["key_signature"].key == "F#m"
    assert meta["track_name"].name == "waltz"
    names = [next(m.name for m in t if m.type == "track_name") for t in mid.tracks[1:]]
    assert names == ["piano", "bass", "drums", "strings"]


def test_programs_controls_and_drum_channel() -> None:
    mid = parse(score_to_midi(demo_score()))
    piano, bass, drums, strings = mid.tracks[1:]
    assert [m.program for m in piano if m.type == "program_change"] == [0]
    assert [m.program for m in bass if m.type == "program_change"] == [33]
    assert [m.program for m in strings if m.type == "program_change"] == [48]
    drum_channels = {m.channel for m in drums if not m.is_meta}
    assert drum_channels == {DRUM_CHANNEL}
    assert not any(m.type == "program_change" for m in drums)
    melodic_channels = [{m.channel for m in t if not m.is_meta} for t in (piano, bass, strings)]
    assert all(len(c) == 1 and DRUM_CHANNEL not in c for c in melodic_channels)
    assert len(set().union(*melodic_channels)) == 3
    cc = {m.control: m.value for m in piano if m.type == "control_change"}
    assert cc == {7: round(0.75 * 127), 10: pan_to_cc(-0.5)}


def test_mido_sees_the_right_length_and_note_count() -> None:
    score = demo_score()
    mid = parse(score_to_midi(score))
    assert mid.length == pytest.approx(score.duration_seconds(), abs=0.01)
    note_ons = sum(1 for t in mid.tracks for m in t if m.type == "note_on" and m.velocity > 0)
    assert note_ons == score.note_count()


def test_round_trip_keeps_everything_the_score_models() -> None:
    original = demo_score()
    back = midi_to_score(score_to_midi(original))
    assert back.tempo_bpm == pytest.approx(96, abs=1e-3)
    assert back.time_signature == (3, 4)
    assert back.key == original.key
    assert back.title == "waltz"
    assert back.length_beats == pytest.approx(14.0)
    assert [t.name for t in back.tracks] == [t.name for t in original.tracks]
    for mine, theirs in zip(original.tracks, back.tracks, strict=True):
        assert theirs.is_drum == mine.is_drum
        assert notes_of(theirs) == notes_of(mine)
        assert theirs.volume == pytest.approx(mine.volume, abs=1 / 127)
        assert theirs.pan == pytest.approx(mine.pan, abs=1 / 63)
        if not mine.is_drum:
            assert theirs.program == mine.program


def test_overlapping_same_pitch_and_back_to_back_notes_survive() -> None:
    track = Track(
        "lead", program=80, notes=[Note(60, 0, 1), Note(60, 1, 1), Note(60, 1.5, 2), Note(62, 2, 0.25)]
    )
    back = midi_to_score(score_to_midi(Score(tempo_bpm=140, tracks=[track])))
    assert notes_of(back.tracks[0]) == notes_of(track)


@pytest.mark.parametrize(
    ("text", "mido_name", "exact"),
    [
        ("C major", "C", True),
        ("Bb major", "Bb", True),
        ("Eb minor", "Ebm", True),
        ("D dorian", "Am", False),
        ("G mixolydian", "C", False),
        ("A harmonic minor", "Am", False),
        ("E minor pentatonic", "Em", False),
    ],
)
def test_key_signatures(text: str, mido_name: str, exact: bool) -> None:
    key = Key.parse(text)
    assert key_signature_name(key) == (mido_name, exact)
    back = midi_to_score(
        score_to_midi(Score(tempo_bpm=100, key=key, tracks=[Track("p", notes=[Note(60, 0, 1)])]))
    )
    assert back.key == key  # modes a signature cannot hold travel in a text event


def test_every_key_writes_a_signature_mido_accepts() -> None:
    for tonic in range(12):
        for mode in ("major", "minor", "dorian", "lydian", "blues"):
            data = score_to_midi(Score(tempo_bpm=90, key=Key(tonic, mode), tracks=[Track("p")]))
            assert midi_to_score(data).key == Key(tonic, mode)


def test_sixteen_melodic_tracks_share_channels_without_the_drum_channel() -> None:
    tracks = [Track(f"t{i}", program=i, notes=[Note(60 + i, i, 1)]) for i in range(16)]
    plans = plan_channels(Score(tempo_bpm=120, tracks=tracks))
    assert len(plans) == 15
    assert DRUM_CHANNEL not in {p.channel for p in plans}
    assert sorted(i for p in plans for i in p.tracks) == list(range(16))
    shared = [p for p in plans if len(p.tracks) == 2]
    assert len(shared) == 1
    # Programs 0–7 are all pianos: the two merged tracks come from one GM family.
    assert len({tracks[i].program // 8 for i in shared[0].tracks}) == 1
    back = midi_to_score(score_to_midi(Score(tempo_bpm=120, tracks=tracks)))
    assert [len(t.notes) for t in back.tracks] == [1] * 16


def test_shared_channel_keeps_relative_loudness_in_velocities() -> None:
    tracks = [
        Track(f"t{i}", program=0, volume=1.0 if i == 0 else 0.5, notes=[Note(60, i, 1, 100)])
        for i in range(16)
    ]
    plans = plan_channels(Score(tempo_bpm=120, tracks=tracks))
    assert len(plans) == 1 and plans[0].volume == 1.0
    back = midi_to_score(score_to_midi(Score(tempo_bpm=120, tracks=tracks)))
    assert back.tracks[0].notes[0].velocity == 100
    assert back.tracks[1].notes[0].velocity == 50


def test_several_drum_tracks_share_channel_ten() -> None:
    tracks = [
        Track("kick", is_drum=True, notes=[Note(36, 0, 0.5)]),
        Track("hats", is_drum=True, notes=[Note(42, 0, 0.5)]),
    ]
    plans = plan_channels(Score(tempo_bpm=120, tracks=tracks))
    assert [(p.channel, p.tracks) for p in plans] == [(DRUM_CHANNEL, (0, 1))]


def test_pan_cc_mapping_round_trips() -> None:
    assert (pan_to_cc(-1.0), pan_to_cc(0.0), pan_to_cc(1.0)) == (0, 64, 127)
    for pan in (-1.0, -0.3, 0.0, 0.42, 1.0):
        assert cc_to_pan(pan_to_cc(pan)) == pytest.approx(pan, abs=1 / 63)


def test_reads_a_format_0_file_from_another_program() -> None:
    mid = mido.MidiFile(type=0, ticks_per_beat=96)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(150)))
    track.append(mido.Message("program_change", channel=2, program=40))
    track.append(mido.Message("note_on", channel=2, note=67, velocity=70, time=0))
    track.append(mido.Message("note_on", channel=9, note=38, velocity=100, time=0))
    track.append(mido.Message("note_on", channel=2, note=67, velocity=0, time=48))  # running-status style off
    track.append(mido.Message("note_off", channel=9, note=38, time=48))
    mid.tracks.append(track)
    buffer = io.BytesIO()
    mid.save(file=buffer)
    score = midi_to_score(buffer.getvalue())
    assert score.tempo_bpm == pytest.approx(150)
    assert score.time_signature == (4, 4) and score.key is None
    by_channel = {t.is_drum: t for t in score.tracks}
    assert by_channel[False].program == 40
    assert notes_of(by_channel[False]) == [(67, 0.0, 0.5, 70)]
    assert notes_of(by_channel[True]) == [(38, 0.0, 1.0, 100)]


@pytest.mark.parametrize("data", [b"", b"not midi at all", b"MThd\x00\x00\x00\x06\x00\x01"])
def test_garbage_is_a_clear_value_error(data: bytes) -> None:
    with pytest.raises(ValueError, match="MIDI"):
        midi_to_score(data)


def test_oversized_upload_is_refused_before_parsing() -> None:
    with pytest.raises(ValueError, match="too large"):
        midi_to_score(b"MThd" + b"\x00" * 100, max_bytes=50)


@pytest.mark.parametrize(
    "data", [b"", b"not midi at all", b"MThd\x00\x00\x00\x06\x00\x01", b"MThd" + bytes(60)]
)
def test_garbage_is_a_friendly_user_error(data: bytes) -> None:
    """Not mido's words ("MThd not found. Probably not a MIDI file"): one sentence for whoever sent it."""
    with pytest.raises(UserError) as caught:
        midi_to_score(data)
    assert caught.value.message.startswith("That isn't a MIDI file I can read")
    assert "MThd" not in caught.value.message and len(caught.value.message) < 100
