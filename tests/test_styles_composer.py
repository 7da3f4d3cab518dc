"""The styles composer: StyleSpec + seed → Score.

Specs are built by hand here (not by the interpreter) so each test pins down
exactly the input it is about.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.backends.styles.composer import compose
from services.backends.styles.harmony import tonality_for
from services.backends.styles.profiles import normalise_genre, profile_for
from services.backends.styles.rhythm import pulses, swing_time
from services.prompting.spec import InstrumentPart, StyleSpec
from services.score.model import Score, Track
from services.score.theory import Key

ALL_ROLES = ("lead", "chords", "bass", "pad", "arp")
FOLK_SET = frozenset({9, 11, 1, 6, 7})  # A, B, C#, F#, G
A_MAJOR = Key(9, "major")


def make_spec(
    genre: str = "pop",
    *,
    duration_s: float = 30.0,
    tempo: float = 110.0,
    key: Key = A_MAJOR,
    metre: tuple[int, int] = (4, 4),
    drums: bool = True,
    pitch_set: frozenset[int] | None = None,
    roles: tuple[str, ...] = ALL_ROLES,
    energy: tuple[float, ...] = (0.3, 0.6, 0.9, 0.4),
    arousal: float = 0.6,
) -> StyleSpec:
    parts = tuple(InstrumentPart(r, 0 if r != "bass" else 33, r) for r in roles)
    if drums:
        parts += (InstrumentPart("drums", 0, "drum kit"),)
    return StyleSpec(
        prompt=f"a {genre} piece",
        genres=(genre,),
        moods=(),
        tags=(genre,),
        valence=0.2,
        arousal=arousal,
        tempo_bpm=tempo,
        key=key,
        time_signature=metre,
        parts=parts,
        drums=drums,
        energy_curve=energy,
        duration_s=duration_s,
        pitch_set=pitch_set,
    )


def future(spec: StyleSpec, drum_style: str, swing: float = 0.0) -> StyleSpec:
    """The spec with an explicit drum style and swing, as the interpreter sets them."""
    return replace(spec, drum_style=drum_style, swing=swing)


def track(score: Score, role: str) -> Track:
    return next(t for t in score.tracks if t.role == role)


def lead_line(score: Score) -> list[tuple[int, float]]:
    return [(n.pitch, round(n.start, 4)) for n in track(score, "lead").notes]


# ------------------------------------------------------------------ determinism and variety


def test_same_seed_gives_identical_score() -> None:
    spec = make_spec("lo-fi", duration_s=40)
    a, b = compose(spec, 1234), compose(spec, 1234)
    assert [(t.name, t.program, t.is_drum, t.pan, t.notes) for t in a.tracks] == [
        (t.name, t.program, t.is_drum, t.pan, t.notes) for t in b.tracks
    ]
    assert a.sections == b.sections and a.length_beats == b.length_beats
    assert a.note_count() > 100


def test_different_seeds_give_clearly_different_melodies() -> None:
    spec = make_spec("pop", duration_s=40)
    lines = [lead_line(compose(spec, seed)) for seed in range(6)]
    for i in range(len(lines)):
        for j in range(i + 1, len(lines)):
            a, b = set(lines[i]), set(lines[j])
            overlap = len(a & b) / len(a | b)
            assert overlap < 0.6, (i, j, overlap)


def test_different_seeds_change_more_than_the_melody() -> None:
    spec = make_spec("jazz", duration_s=60)
    scores = [compose(spec, seed) for seed in range(5)]
    bass_lines = {tuple(n.pitch for n in track(s, "bass").notes) for s in scores}
    assert len(bass_lines) >= 4


# ------------------------------------------------------------------ pitch constraints


@pytest.mark.parametrize(
    ("genre", "metre"),
    [
        ("folk", (4, 4)),
        ("jazz", (4, 4)),
        ("lo-fi", (4, 4)),
        ("rock", (4, 4)),
        ("ambient", (4, 4)),
        ("house", (4, 4)),
        ("blues", (4, 4)),
        ("waltz", (3, 4)),
        ("celtic", (6, 8)),
        ("reggae", (4, 4)),
    ],
)
def test_pitch_set_respected_by_every_melodic_note(genre: str, metre: tuple[int, int]) -> None:
    for seed in (1, 2, 3):
        score = compose(make_spec(genre, metre=metre, pitch_set=FOLK_SET, duration_s=45), seed)
        for t in score.melodic_tracks():
            assert t.notes, t.role
            stray = {n.pitch % 12 for n in t.notes} - FOLK_SET
            assert not stray, (genre, seed, t.role, stray)


def test_pitch_set_chords_are_stacks_of_allowed_notes_with_harmony() -> None:
    score = compose(make_spec("folk", pitch_set=FOLK_SET, duration_s=45), 5)
    chords = track(score, "chords")
    by_onset: dict[float, set[int]] = {}
    for n in chords.notes:
        by_onset.setdefault(n.start, set()).add(n.pitch % 12)
    assert all(len(pcs) >= 2 for pcs in by_onset.values())  # real chords, not single notes
    assert len({frozenset(p) for p in by_onset.values()}) >= 2  # and the harmony moves


def test_without_pitch_set_notes_stay_in_the_key() -> None:
    key = Key(2, "dorian")
    score = compose(make_spec("funk", key=key, duration_s=40), 9)
    scale = key.pitch_classes()
    for t in score.melodic_tracks():
        assert {n.pitch % 12 for n in t.notes} <= scale, t.role


def test_pentatonic_key_keeps_to_five_notes() -> None:
    key = Key(4, "minor pentatonic")
    score = compose(make_spec("rock", key=key, duration_s=30), 4)
    for t in score.melodic_tracks():
        assert {n.pitch % 12 for n in t.notes} <= key.pitch_classes(), t.role


# ------------------------------------------------------------------ drums and metre


def test_no_drum_track_when_drums_are_off() -> None:
    spec = make_spec("ambient", drums=False, duration_s=60)
    score = compose(spec, 3)
    assert score.drum_tracks() == []
    assert all(t.role != "drums" for t in score.tracks)


def test_drum_style_none_means_no_drums_even_when_drums_flag_is_set() -> None:
    spec = future(make_spec("rock", duration_s=20), "none")
    assert compose(spec, 1).drum_tracks() == []


def test_drums_present_and_on_the_gm_kit() -> None:
    score = compose(make_spec("rock", duration_s=30), 2)
    (drums,) = score.drum_tracks()
    keys = {n.pitch for n in drums.notes}
    assert {36, 38, 42} <= keys  # kick, snare, closed hat
    assert all(35 <= k <= 81 for k in keys)


def test_waltz_is_in_three_and_its_drums_follow_three_beat_bars() -> None:
    spec = make_spec("waltz", metre=(3, 4), duration_s=40, tempo=150)
    score = compose(spec, 6)
    assert score.time_signature == (3, 4) and score.beats_per_bar == 3.0
    (drums,) = score.drum_tracks()
    kicks = [n.start for n in drums.notes if n.pitch == 36]
    assert kicks and all(abs(k % 3) < 1e-6 for k in kicks)  # kick only on each bar's "one"
    bars_with_kick = {int(k // 3) for k in kicks}
    main = [s for s in score.sections if s.name in ("A", "B")]
    for sec in main:
        for bar in range(int(sec.start_beat // 3), int(sec.end_beat // 3)):
            assert bar in bars_with_kick
    # the after-beats land on beats 2 and 3 of the bar
    snares = {round(n.start % 3, 4) for n in drums.notes if n.pitch == 38}
    assert {1.0, 2.0} <= snares
    assert all(abs(s.start_beat % 3) < 1e-9 for s in score.sections)


@pytest.mark.parametrize("metre", [(6, 8), (5, 4), (7, 8), (2, 4)])
def test_other_metres_put_the_kick_on_every_downbeat(metre: tuple[int, int]) -> None:
    spec = make_spec("pop", metre=metre, duration_s=30, energy=(0.7,))
    score = compose(spec, 8)
    bar = score.beats_per_bar
    kicks = {round(n.start / bar, 6) for n in score.drum_tracks()[0].notes if n.pitch == 36}
    whole_bars = int(score.length_beats // bar)
    for b in range(whole_bars):
        assert float(b) in kicks, (metre, b)


def test_swing_from_the_spec_moves_offbeat_hats_late() -> None:
    straight = compose(future(make_spec("rock", duration_s=20, energy=(0.7,)), "rock", 0.0), 1)
    swung = compose(future(make_spec("rock", duration_s=20, energy=(0.7,)), "rock", 0.33), 1)
    frac = {round(n.start % 1, 3) for n in straight.drum_tracks()[0].notes if n.pitch == 42}
    frac_swung = {round(n.start % 1, 3) for n in swung.drum_tracks()[0].notes if n.pitch == 42}
    assert 0.5 in frac and 0.5 not in frac_swung
    assert round(swing_time(0.5, 0.33), 3) in frac_swung


def test_drum_style_from_the_spec_wins_over_the_genre() -> None:
    score = compose(future(make_spec("folk", duration_s=20, energy=(0.7,)), "four_on_floor"), 1)
    kicks = {round(n.start % 4, 4) for n in score.drum_tracks()[0].notes if n.pitch == 36}
    assert {0.0, 1.0, 2.0, 3.0} <= kicks


# ------------------------------------------------------------------ length and form


@pytest.mark.parametrize(
    ("duration", "tempo", "metre"),
    [
        (5, 110, (4, 4)),
        (5, 40, (4, 4)),
        (7.3, 97, (3, 4)),
        (30, 120, (4, 4)),
        (300, 90, (4, 4)),
        (600, 174, (4, 4)),
        (61, 140, (6, 8)),
    ],
)
def test_length_is_exact_and_the_ending_rings_to_it(
    duration: float, tempo: float, metre: tuple[int, int]
) -> None:
    spec = make_spec("pop", duration_s=duration, tempo=tempo, metre=metre)
    score = compose(spec, 11)
    expected = duration * tempo / 60
    assert score.length_beats == pytest.approx(expected, abs=1e-9)
    ends = [n.end for t in score.tracks for n in t.notes]
    assert max(ends) <= expected + 1e-6
    assert max(ends) == pytest.approx(expected, abs=1e-3)  # the final chord rings to the very end
    assert score.sections[0].start_beat == 0 and score.sections[-1].end_beat == pytest.approx(expected)
    for a, b in zip(score.sections, score.sections[1:], strict=False):
        assert a.end_beat == b.start_beat


def test_longer_songs_have_intro_a_b_and_outro() -> None:
    score = compose(make_spec("pop", duration_s=90), 2)
    names = [s.name for s in score.sections]
    assert names[0] == "intro" and names[-1] == "outro"
    assert "A" in names and "B" in names
    assert all(s.start_beat % score.beats_per_bar == 0 for s in score.sections)


def test_ambient_uses_a_loop_form() -> None:
    score = compose(make_spec("ambient", duration_s=90, tempo=70, drums=False), 2)
    names = [s.name for s in score.sections]
    assert len(names) >= 2 and all(n.startswith("loop") for n in names)


def test_short_pieces_have_fewer_sections() -> None:
    short = compose(make_spec("pop", duration_s=5), 1)
    long = compose(make_spec("pop", duration_s=120), 1)
    assert len(short.sections) == 1
    assert len(long.sections) > 3


def test_energy_drives_velocity_and_density() -> None:
    spec = make_spec("rock", duration_s=60, energy=(0.15, 0.5, 0.95, 0.3))
    score = compose(spec, 3)
    intro = next(s for s in score.sections if s.name == "intro")
    b = next(s for s in score.sections if s.name == "B")

    def stats(start: float, end: float) -> tuple[float, float]:
        notes = [n for t in score.tracks for n in t.notes if start <= n.start < end]
        per_beat = len(notes) / (end - start)
        return per_beat, sum(n.velocity for n in notes) / max(1, len(notes))

    intro_density, intro_vel = stats(intro.start_beat, intro.end_beat)
    b_density, b_vel = stats(b.start_beat, b.end_beat)
    assert b_density > 1.5 * intro_density
    assert b_vel > intro_vel + 10
    assert intro.energy < b.energy


# ------------------------------------------------------------------ ending, ranges, parts, validity


@pytest.mark.parametrize("genre", ["pop", "jazz", "folk", "ambient", "metal", "bossa nova", "trap"])
def test_final_notes_resolve_to_the_tonic(genre: str) -> None:
    key = Key(7, "minor") if genre in ("metal", "trap") else Key(5, "major")
    for seed in (1, 2):
        score = compose(make_spec(genre, key=key, duration_s=30), seed)
        lead = track(score, "lead").notes
        assert lead[-1].pitch % 12 == key.tonic
        bass = track(score, "bass").notes
        assert bass[-1].pitch % 12 == key.tonic
        last_chord_start = max(n.start for n in track(score, "chords").notes)
        final = {n.pitch % 12 for n in track(score, "chords").notes if n.start == last_chord_start}
        assert key.tonic in final


def test_ending_with_a_pitch_set_lacking_the_tonic_uses_the_nearest_allowed() -> None:
    allowed = frozenset({1, 3, 6, 8, 10})  # black keys only, key says C major
    score = compose(make_spec("folk", key=Key(0, "major"), pitch_set=allowed, duration_s=20), 2)
    last = track(score, "lead").notes[-1].pitch % 12
    assert last in allowed
    assert last == tonality_for(Key(0, "major"), allowed).tonic == 1
    for t in score.melodic_tracks():
        assert {n.pitch % 12 for n in t.notes} <= allowed


def test_pitch_ranges_per_role() -> None:
    ranges = {"bass": (28, 52), "chords": (48, 72), "lead": (60, 88), "pad": (48, 80), "arp": (55, 90)}
    for genre in ("pop", "jazz", "chiptune", "cinematic", "disco"):
        for key in (Key(0, "major"), Key(11, "minor"), Key(6, "lydian")):
            score = compose(make_spec(genre, key=key, duration_s=30), 3)
            for t in score.melodic_tracks():
                low, high = ranges[t.role]
                pitches = [n.pitch for n in t.notes]
                assert low <= min(pitches) and max(pitches) <= high, (genre, key, t.role)


@pytest.mark.parametrize(
    "genre",
    [
        "lo-fi",
        "jazz",
        "blues",
        "rock",
        "pop",
        "folk",
        "classical",
        "ambient",
        "electronic",
        "house",
        "techno",
        "trance",
        "drum and bass",
        "hip hop",
        "trap",
        "chiptune",
        "synthwave",
        "funk",
        "soul",
        "reggae",
        "bossa nova",
        "latin",
        "metal",
        "country",
        "orchestral",
        "cinematic",
        "march",
        "disco",
        "r&b",
        "gospel",
        "city pop",
        "celtic",
        "meditation",
        "kazoo-core",
    ],
)
def test_every_part_gets_valid_notes(genre: str) -> None:
    for duration in (5, 45):
        spec = make_spec(genre, duration_s=duration)
        score = compose(spec, 21)
        assert {t.role for t in score.tracks} == {p.role for p in spec.parts}
        length = score.length_beats
        assert length is not None
        for t in score.tracks:
            assert t.notes, (genre, t.role)
            for n in t.notes:
                assert 1 <= n.velocity <= 127
                assert n.duration > 0 and n.start >= 0
                assert n.end <= length + 1e-6
                assert 21 <= n.pitch <= 108 or t.is_drum
            assert -1 <= t.pan <= 1


def test_parts_are_spread_in_the_stereo_field() -> None:
    score = compose(make_spec("pop"), 1)
    pans = {t.role: t.pan for t in score.tracks}
    assert pans["bass"] == 0 and pans["drums"] == 0
    assert pans["chords"] != 0 and pans["pad"] != 0 and pans["chords"] * pans["pad"] < 0
    assert 0 < abs(pans["lead"]) < 0.5


def test_duplicate_and_unknown_roles_each_get_a_track() -> None:
    spec = make_spec("pop", roles=("lead", "lead", "chords", "chords", "bass", "choir"))
    score = compose(spec, 4)
    assert [t.role for t in score.tracks] == ["lead", "lead", "chords", "chords", "bass", "choir", "drums"]
    leads = [t for t in score.tracks if t.role == "lead"]
    assert leads[0].notes != leads[1].notes and leads[0].pan != leads[1].pan
    assert all(t.notes for t in score.tracks)


def test_drums_added_when_wanted_but_no_drum_part_listed() -> None:
    spec = replace(make_spec("rock", drums=False), drums=True)
    score = compose(spec, 1)
    assert len(score.drum_tracks()) == 1 and score.drum_tracks()[0].notes


def test_lead_alone_still_plays_from_the_start() -> None:
    score = compose(make_spec("folk", roles=("lead",), drums=False, duration_s=30), 2)
    (lead,) = score.tracks
    assert lead.notes[0].start < score.beats_per_bar * 2


# ------------------------------------------------------------------ helpers


def test_metre_pulses() -> None:
    assert pulses((4, 4)) == (1.0, 1.0, 1.0, 1.0)
    assert pulses((3, 4)) == (1.0, 1.0, 1.0)
    assert pulses((6, 8)) == (1.5, 1.5)
    assert pulses((7, 8)) == (1.0, 1.0, 1.5)
    assert pulses((5, 8)) == (1.0, 1.5)
    assert sum(pulses((12, 8))) == 6.0


def test_genre_names_are_normalised_and_unknown_ones_fall_back() -> None:
    assert normalise_genre("Hip-Hop") == "hip hop"
    assert normalise_genre("LoFi") == "lo-fi"
    assert profile_for(("no such genre", "Bossa Nova")).name == "bossa nova"
    assert profile_for(("no such genre",)).name == "pop"
