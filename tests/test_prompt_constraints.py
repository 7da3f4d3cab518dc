"""The explicit-statement parser: what a prompt says outright, and what it must not misread."""

from __future__ import annotations

import pytest

from services.prompting import parse_explicit
from services.score.theory import Key


@pytest.mark.parametrize(
    ("prompt", "bpm", "words"),
    [
        ("melancholic lo-fi piano, 72 bpm, A minor", 72, "72 bpm"),
        ("upbeat 8-bit chiptune at 150 bpm", 150, "150 bpm"),
        ("house at 124BPM", 124, "124BPM"),
        ("tempo: 96, funky", 96, "tempo: 96"),
        ("90 beats per minute", 90, "90 beats per minute"),
        ("q=100 march", 100, "q=100"),
        ("a 99.5 bpm groove", 99.5, "99.5 bpm"),
    ],
)
def test_tempo(prompt: str, bpm: float, words: str) -> None:
    c = parse_explicit(prompt)
    assert c.tempo_bpm == bpm
    assert c.tempo_words == (words,)


@pytest.mark.parametrize(
    "prompt", ["80s synthwave", "8-bit chiptune", "1990s rock", "500 bpm", "10 bpm", "top 40 pop"]
)
def test_not_tempo(prompt: str) -> None:
    assert parse_explicit(prompt).tempo_bpm is None


@pytest.mark.parametrize(
    ("prompt", "key", "words"),
    [
        ("melancholic lo-fi piano, 72 bpm, A minor", Key(9, "minor"), "A minor"),
        ("a sad song in D minor", Key(2, "minor"), "in D minor"),
        ("in the key of Eb", Key(3, "major"), "key of Eb"),
        ("key of D", Key(2, "major"), "key of D"),
        ("Bb major ballad", Key(10, "major"), "Bb major"),
        ("bb minor nocturne", Key(10, "minor"), "bb minor"),
        ("in F#m, sad", Key(6, "minor"), "in F#m"),
        ("Am, 90 bpm", Key(9, "minor"), "Am"),
        ("song in e minor", Key(4, "minor"), "in e minor"),
        ("written in A", Key(9, "major"), "in A"),
        ("E phrygian metal", Key(4, "phrygian"), "E phrygian"),
        ("in A minor with strings", Key(9, "minor"), "in A minor"),
        ("C sharp minor sonata", Key(1, "minor"), "C sharp minor"),
        ("jam in G mixolydian", Key(7, "mixolydian"), "in G mixolydian"),
    ],
)
def test_key(prompt: str, key: Key, words: str) -> None:
    c = parse_explicit(prompt)
    assert c.key == key
    assert c.key_words == (words,)


@pytest.mark.parametrize(
    "prompt",
    ["a minor change of plans", "A major improvement", "I am happy", "as good as it gets", "in a minute",
     "for a min", "plan b", "a dance in a club"],
)  # fmt: skip
def test_prose_is_not_a_key(prompt: str) -> None:
    c = parse_explicit(prompt)
    assert c.key is None
    assert c.mode is None


def test_mode_without_tonic() -> None:
    c = parse_explicit("something in a minor key")
    assert (c.key, c.mode, c.mode_words) == (None, "minor", ("in a minor key",))
    assert parse_explicit("a dorian groove").mode == "dorian"
    assert parse_explicit("solo over the blues scale").mode == "blues"


@pytest.mark.parametrize(
    ("prompt", "metre"),
    [("3/4 ballad", (3, 4)), ("in 6/8", (6, 8)), ("4/4 waltz", (4, 4)), ("7/8 prog", (7, 8)),
     ("common time", (4, 4)), ("waltz time", (3, 4)), ("birthday 12/05, 3/4", (3, 4))],
)  # fmt: skip
def test_time_signature(prompt: str, metre: tuple[int, int]) -> None:
    assert parse_explicit(prompt).time_signature == metre


@pytest.mark.parametrize("prompt", ["waltz", "played at 1/2 speed", "on 12/05", "24/7 radio"])
def test_not_a_time_signature(prompt: str) -> None:
    assert parse_explicit(prompt).time_signature is None


@pytest.mark.parametrize(
    ("prompt", "names", "only"),
    [
        ("only piano and cello", ("piano", "cello"), True),
        ("just piano", ("piano",), True),
        ("solo piano", ("piano",), True),
        ("piano only", ("piano",), True),
        ("a cello alone", ("cello",), True),
        ("lo-fi with rhodes and sax", ("rhodes", "sax"), False),
        ("808 bass and hi hats", ("808 bass",), False),
        ("electric piano and acoustic guitar", ("electric piano", "acoustic guitar"), False),
        ("chill vibes", (), False),
        ("synth-pop anthem", (), False),
        ("drum and bass", (), False),
    ],
)
def test_instruments(prompt: str, names: tuple[str, ...], only: bool) -> None:
    c = parse_explicit(prompt)
    assert tuple(i.name for i in c.instruments) == names
    assert c.only_instruments is only


def test_instrument_programs_and_words() -> None:
    c = parse_explicit("Only Piano and CELLO please")
    assert [(i.program, i.words) for i in c.instruments] == [(0, ("Piano",)), (42, ("CELLO",))]
    assert c.only_words


@pytest.mark.parametrize(
    ("prompt", "drums", "words"),
    [
        ("ambient drone, no drums", False, ("no drums",)),
        ("without percussion", False, ("without percussion",)),
        ("a drumless groove", False, ("drumless",)),
        ("no bass or drums", False, ("drums",)),
        ("with drums", True, ("drums",)),
        ("heavy drums and bass", True, ("drums",)),
        ("punchy kick and snare", True, ("kick",)),
        ("a chill beat", None, ()),
        ("steel drums on the beach", None, ()),
        ("drum and bass", None, ()),
    ],
)
def test_drums(prompt: str, drums: bool | None, words: tuple[str, ...]) -> None:
    c = parse_explicit(prompt)
    assert c.drums is drums
    assert all(any(w in cw for cw in c.drums_words) for w in words)


def test_negated_instruments_are_excluded_not_named() -> None:
    c = parse_explicit("no drums or bass, just strings")
    assert c.drums is False
    assert [e.name for e in c.excluded] == ["bass"]
    assert [i.name for i in c.instruments] == ["strings"]
    assert c.only_instruments
    d = parse_explicit("jazz without piano")
    assert [e.program for e in d.excluded] == [0] and d.instruments == ()


@pytest.mark.parametrize(
    ("prompt", "pcs"),
    [
        ("a folk song that only uses A, B, C#, F# and G", {9, 11, 1, 6, 7}),
        ("using only the notes C D E G A", {0, 2, 4, 7, 9}),
        ("notes: Bb, D, F", {10, 2, 5}),
        ("restricted to the notes e, f# and b", {4, 6, 11}),
        ("pitch set {C, Eb, G}", {0, 3, 7}),
    ],
)
def test_pitch_set(prompt: str, pcs: set[int]) -> None:
    c = parse_explicit(prompt)
    assert c.pitch_set == frozenset(pcs)
    assert c.pitch_set_words


@pytest.mark.parametrize("prompt", ["only uses a few notes", "the notes of a summer day", "only the best"])
def test_not_a_pitch_set(prompt: str) -> None:
    assert parse_explicit(prompt).pitch_set is None


@pytest.mark.parametrize(
    ("prompt", "seconds"),
    [("30 seconds of rain", 30), ("1 minute", 60), ("1:30 of jazz", 90), ("45s", 45), ("2 min", 120),
     ("a 90-second loop", 90), ("half a minute", 30), ("a minute and a half", 90), ("1 min 15 s", 75),
     ("for 30s", 30), ("2.5 minutes", 150)],
)  # fmt: skip
def test_duration(prompt: str, seconds: float) -> None:
    assert parse_explicit(prompt).duration_s == seconds


@pytest.mark.parametrize(
    "prompt", ["80s synthwave", "'90s hip hop", "1980s", "wake me at 7:30 am", "8-bit", "I am"]
)
def test_not_a_duration(prompt: str) -> None:
    assert parse_explicit(prompt).duration_s is None


def test_bars() -> None:
    c = parse_explicit("16 bars of 6/8 celtic jig")
    assert (c.bars, c.bars_words, c.time_signature) == (16, ("16 bars",), (6, 8))
    assert parse_explicit("an 8-bar loop").bars == 8


def test_everything_at_once_and_stated_fields() -> None:
    c = parse_explicit("only piano and cello in D minor, 3/4, 60 bpm, 45 seconds, no drums")
    assert c.key == Key(2, "minor") and c.time_signature == (3, 4) and c.tempo_bpm == 60
    assert c.duration_s == 45 and c.drums is False and c.only_instruments
    assert c.stated() == frozenset({"tempo", "key", "metre", "instruments", "drums", "duration"})
    assert parse_explicit("a happy song").stated() == frozenset()
