"""The shared score checker: limits, locations and the messages an LLM gets back for repair."""

from __future__ import annotations

import math

import pytest

from services.score.model import Note, Score, Track
from services.score.theory import Key
from services.score.validate import ScoreLimits, Violation, check_pitch_set, locate, validate_score


def good_score() -> Score:
    return Score(
        tempo_bpm=110,
        key=Key.parse("A major"),
        tracks=[
            Track("flute", program=73, notes=[Note((69, 71, 73)[i % 3], i, 1) for i in range(16)]),
            Track("drums", is_drum=True, notes=[Note(36, i, 0.5, 100) for i in range(16)]),
        ],
    )


def codes(violations: list[Violation]) -> list[str]:
    return [v.code for v in violations]


def test_a_reasonable_score_passes() -> None:
    assert validate_score(good_score()) == []


def test_locate_uses_the_metre() -> None:
    waltz = Score(tempo_bpm=90, time_signature=(3, 4))
    assert locate(waltz, 0.0) == (1, 1.0)
    assert locate(waltz, 7.5) == (3, 2.5)
    six_eight = Score(tempo_bpm=90, time_signature=(6, 8))  # three quarter-note beats per bar
    assert locate(six_eight, 3.0) == (2, 1.0)
    assert locate(Score(tempo_bpm=90), 8.0) == (3, 1.0)


def test_pitch_set_message_names_bar_track_and_allowed_set() -> None:
    score = Score(
        tempo_bpm=100,
        tracks=[Track("flute", program=73, notes=[Note(69, 0, 1), Note(68, 9, 1), Note(68, 9.5, 0.5)])],
    )
    allowed = frozenset({9, 11, 1, 6, 7})  # A, B, C#, F#, G
    found = check_pitch_set(score, allowed)
    assert len(found) == 1  # the two G#s in bar 3 collapse to one message
    v = found[0]
    assert v.message == "bar 3, flute: G# is not allowed (allowed: C#, F#, G, A, B)"
    assert str(v) == v.message
    assert (v.code, v.track, v.bar, v.beat) == ("pitch_set", "flute", 3, 2.0)


def test_pitch_set_reports_each_bar_and_class_and_skips_drums() -> None:
    score = Score(
        tempo_bpm=100,
        tracks=[
            Track("piano", notes=[Note(61, 0, 1), Note(63, 1, 1), Note(61, 4, 1), Note(60, 5, 1)]),
            Track("drums", is_drum=True, notes=[Note(37, 0, 0.5), Note(39, 1, 0.5)]),
        ],
    )
    found = check_pitch_set(score, Key.parse("C major").pitch_classes())
    assert [(v.track, v.bar, v.message.split(": ")[1].split(" ")[0]) for v in found] == [
        ("piano", 1, "C#"),
        ("piano", 1, "D#"),
        ("piano", 2, "C#"),
    ]
    flats = check_pitch_set(score, frozenset({0}), flats=True)
    assert flats[0].message == "bar 1, piano: Db is not allowed (allowed: C)"


def test_in_key_score_has_no_pitch_set_violations() -> None:
    score = good_score()
    assert score.key is not None
    assert check_pitch_set(score, score.key.pitch_classes()) == []


@pytest.mark.parametrize("tempo", [10.0, 301.0, math.nan, math.inf])
def test_tempo_out_of_range(tempo: float) -> None:
    score = good_score()
    score.tempo_bpm = tempo
    found = [v for v in validate_score(score) if v.code == "tempo"]
    assert len(found) == 1 and "20–300 BPM" in found[0].message
    assert found[0].bar is None and found[0].track is None


def test_too_many_notes_and_too_long() -> None:
    many = Score(tempo_bpm=60, tracks=[Track("piano", notes=[Note(60, i * 0.15, 0.1) for i in range(4001)])])
    assert "notes" in codes(validate_score(many))
    assert "4,001 notes (at most 4,000" in next(v.message for v in validate_score(many) if v.code == "notes")
    long = Score(tempo_bpm=60, tracks=[Track("piano", notes=[Note(60, 0, 1), Note(60, 600, 1)])])
    found = [v for v in validate_score(long) if v.code == "length"]
    assert len(found) == 1 and "10:01" in found[0].message and "10:00" in found[0].message
    exactly = Score(tempo_bpm=60, tracks=[Track("piano", notes=[Note(60, 599, 1)])])
    assert "length" not in codes(validate_score(exactly))


def test_track_count_limits() -> None:
    assert "tracks" in codes(validate_score(Score(tempo_bpm=100)))
    crowd = Score(tempo_bpm=100, tracks=[Track(f"t{i}", notes=[Note(60, 0, 1)]) for i in range(17)])
    assert "the score has 17 tracks (allowed: 1–16)" in [v.message for v in validate_score(crowd)]
    assert "tracks" not in codes(validate_score(Score(tempo_bpm=100, tracks=crowd.tracks[:16])))


def test_note_level_problems_are_located() -> None:
    score = Score(
        tempo_bpm=120,
        tracks=[
            Track(
                "bass",
                program=33,
                notes=[
                    Note(12, 4, 1),  # too low, bar 2
                    Note(110, 8.5, 1),  # too high, bar 3 beat 1.5
                    Note(40, 1, 0),  # zero duration
                    Note(40, -1, 1),  # before the start
                    Note(40, 2, 1, velocity=0),
                    Note(40, 3, 1, velocity=128),
                ],
            )
        ],
    )
    found = {v.code: v for v in validate_score(score) if v.code != "pitch_range"}
    ranges = [v for v in validate_score(score) if v.code == "pitch_range"]
    assert [(v.bar, v.beat) for v in ranges] == [(2, 1.0), (3, 1.5)]
    assert ranges[0].message == "bar 2, bass: pitch 12 (C0) is below the lowest allowed, 21 (A0)"
    assert ranges[1].message == "bar 3, bass: pitch 110 (D8) is above the highest allowed, 108 (C8)"
    assert found["duration"].bar == 1 and "duration 0 beats" in found["duration"].message
    assert found["start"].message == "bass: a note starts at beat -1; starts must be 0 or later"
    assert [v.message for v in validate_score(score) if v.code == "velocity"] == [
        "bar 1, bass: velocity 0 is outside 1–127",
        "bar 1, bass: velocity 128 is outside 1–127",
    ]


def test_drum_keys_are_not_held_to_the_piano_range() -> None:
    score = Score(
        tempo_bpm=100, tracks=[Track("drums", is_drum=True, notes=[Note(27, 0, 0.5), Note(87, 1, 0.5)])]
    )
    assert validate_score(score) == []
    score.tracks[0].notes.append(Note(128, 2, 0.5))
    assert codes(validate_score(score)) == ["pitch_range"]


def test_polyphony_limit_reports_where_it_is_first_exceeded() -> None:
    cluster = [Note(48 + i, 4 + i * 0.01, 2) for i in range(5)]
    legato = [Note(60 + i % 2, 8 + i * 0.5, 0.5) for i in range(8)]  # back to back is never overlap
    score = Score(tempo_bpm=100, tracks=[Track("pad", notes=cluster + legato)])
    found = validate_score(score, ScoreLimits(max_polyphony=4))
    assert codes(found) == ["polyphony"]
    assert found[0].message == "bar 2, pad: 5 notes sound at once (at most 4 per track)"
    assert found[0].beat == pytest.approx(1.04)
    assert validate_score(score, ScoreLimits(max_polyphony=6)) == []
    assert (
        validate_score(
            Score(tempo_bpm=100, tracks=[Track("lead", notes=legato)]), ScoreLimits(max_polyphony=1)
        )
        == []
    )


def test_track_settings_are_checked() -> None:
    score = good_score()
    score.tracks[0].program = 128
    score.tracks[0].pan = -1.5
    score.tracks[1].volume = 2.0
    messages = [v.message for v in validate_score(score)]
    assert "flute: program 128 is not a General MIDI program (0–127)" in messages
    assert "flute: pan -1.5 is outside -1 (left) … 1 (right)" in messages
    assert "drums: volume 2 is outside 0–1" in messages


def test_duplicate_names_and_empty_scores() -> None:
    twins = Score(tempo_bpm=100, tracks=[Track("piano", notes=[Note(60, 0, 1)]), Track("piano")])
    assert "track_name" in codes(validate_score(twins))
    empty = Score(tempo_bpm=100, tracks=[Track("piano")])
    assert [v.message for v in validate_score(empty)] == ["the score has no notes"]


def test_custom_limits_apply() -> None:
    score = good_score()
    strict = ScoreLimits(max_notes=10, max_seconds=5.0, min_pitch=70)
    found = codes(validate_score(score, strict))
    assert {"notes", "length", "pitch_range"} <= set(found)


def test_non_finite_values_never_crash() -> None:
    score = Score(
        tempo_bpm=120,
        tracks=[Track("x", pan=math.nan, notes=[Note(60, math.nan, 1), Note(60, 0, math.inf)])],
    )
    found = codes(validate_score(score))
    assert {"pan", "start", "duration"} <= set(found)
    assert check_pitch_set(score, frozenset({1})) != []
