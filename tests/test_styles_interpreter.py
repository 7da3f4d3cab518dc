"""Prompt → StyleSpec: stated things always win, inference is sensible, every decision shows its words."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from services.prompting.embeddings import Embedder
from services.prompting.interpreter import interpret, interpret_detailed
from services.prompting.spec import StyleSpec
from services.prompting.vocabulary import DRUM_STYLES, TAGS, vocabulary_markdown
from services.score.theory import Key

DOCS = Path(__file__).resolve().parent.parent / "docs" / "styles-vocabulary.md"


@pytest.fixture(scope="module")
def real_embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    emb = Embedder(cache_dir=tmp_path_factory.mktemp("tag-embeddings"))
    ok, reason = emb.available()
    if not ok:
        pytest.skip(reason)
    return emb


@pytest.fixture(params=["keywords", "meaning"])
def embedder(request: pytest.FixtureRequest) -> Embedder | None:
    """Every table row must hold with meaning matching off and on."""
    return None if request.param == "keywords" else request.getfixturevalue("real_embedder")


@dataclass(frozen=True)
class Row:
    prompt: str
    bpm: float | None = None
    key: Key | None = None
    metre: tuple[int, int] | None = None
    lead: int | None = None  # GM program of the lead part
    programs: frozenset[int] = frozenset()  # GM programs that must have a part
    exact_programs: frozenset[int] | None = None  # "only …": exactly these programs
    drums: bool | None = None
    pitch_set: frozenset[int] | None = None
    duration: float | None = None
    genre: str | None = None  # must be the first genre
    mood: str | None = None  # must be among the moods
    explicit: frozenset[str] = field(default_factory=frozenset)


TABLE = [
    Row("melancholic lo-fi piano, 72 bpm, A minor", bpm=72, key=Key(9, "minor"), lead=0, genre="lo-fi",
        mood="melancholic", explicit=frozenset({"tempo", "key", "instruments", "genre"})),
    Row("upbeat 8-bit chiptune at 150 bpm", bpm=150, lead=80, genre="chiptune", drums=True),
    Row("a folk song that only uses A, B, C#, F# and G", pitch_set=frozenset({9, 11, 1, 6, 7}), genre="folk"),
    Row("ambient drone, no drums", drums=False, genre="ambient", explicit=frozenset({"drums", "genre"})),
    Row("waltz", metre=(3, 4), genre="waltz"),
    Row("a 4/4 waltz", metre=(4, 4), genre="waltz"),
    Row("only piano and cello", exact_programs=frozenset({0, 42}), drums=False),
    Row("solo piano, sad", exact_programs=frozenset({0}), drums=False, mood="sad"),
    Row("heavy metal riff in E phrygian", key=Key(4, "phrygian"), genre="metal", drums=True),
    Row("jazz trio in Bb major at 120 bpm", bpm=120, key=Key(10, "major"), genre="jazz", drums=True),
    Row("happy reggae for the beach, 30 seconds", duration=30, genre="reggae", mood="happy"),
    Row("dark techno 130 bpm with an 808 bass", bpm=130, programs=frozenset({38}), genre="techno",
        mood="dark"),
    Row("romantic bossa nova with nylon guitar and flute", programs=frozenset({24, 73}), genre="bossa nova",
        mood="romantic"),
    Row("epic cinematic trailer music in C minor", key=Key(0, "minor"), genre="cinematic", mood="epic"),
    Row("chill hip hop beat, 1:30, with rhodes", duration=90, programs=frozenset({4}), genre="hip hop"),
    Row("energetic drum and bass at 174 bpm", bpm=174, genre="drum and bass", drums=True, mood="energetic"),
    Row("a calm lullaby with music box in 3/4", metre=(3, 4), lead=10, genre="lullaby", drums=False),
    Row("disco with slap bass, 2 minutes", duration=120, programs=frozenset({36}), genre="disco"),
    Row("80s synthwave night drive", genre="synthwave", drums=True),
    Row("spooky halloween march", genre="march", mood="spooky"),
    Row("classical string quartet, only violin, viola and cello", exact_programs=frozenset({40, 41, 42}),
        drums=False, genre="classical"),
    Row("country song with banjo and fiddle in G", key=Key(7, "major"), programs=frozenset({105, 110}),
        genre="country"),
    Row("trap beat 140 bpm, no piano", bpm=140, genre="trap"),
    Row("a sad trumpet solo over strings", lead=56, programs=frozenset({48}), mood="sad"),
    Row("celtic jig in 6/8 with tin whistle, 16 bars", metre=(6, 8), lead=74, genre="celtic"),
]  # fmt: skip


def _programs(spec: StyleSpec) -> set[int]:
    return {p.program for p in spec.parts if p.role != "drums"}


@pytest.mark.parametrize("row", TABLE, ids=[r.prompt for r in TABLE])
def test_table(row: Row, embedder: Embedder | None) -> None:
    spec = interpret(row.prompt, embedder=embedder)
    if row.bpm is not None:
        assert spec.tempo_bpm == row.bpm
    if row.key is not None:
        assert spec.key == row.key
    if row.metre is not None:
        assert spec.time_signature == row.metre
    if row.lead is not None:
        assert spec.lead is not None and spec.lead.program == row.lead
    assert row.programs <= _programs(spec)
    if row.exact_programs is not None:
        assert _programs(spec) == row.exact_programs
    if row.drums is not None:
        assert spec.drums is row.drums
        assert any(p.role == "drums" for p in spec.parts) is row.drums
    if row.pitch_set is not None:
        assert spec.pitch_set == row.pitch_set
        assert row.pitch_set <= spec.key.pitch_classes()  # the chosen key can hold every stated note
    if row.duration is not None:
        assert spec.duration_s == row.duration
    if row.genre is not None:
        assert spec.genres[0] == row.genre
    if row.mood is not None:
        assert row.mood in spec.moods
    assert row.explicit <= spec.explicit
    # Always resolved and consistent.
    assert 20 <= spec.tempo_bpm <= 300 and -1 <= spec.valence <= 1 and 0 <= spec.arousal <= 1
    assert len(spec.energy_curve) == 5 and all(0 <= e <= 1 for e in spec.energy_curve)
    assert spec.drums == any(p.role == "drums" for p in spec.parts)
    assert len({p.role for p in spec.parts}) == len(spec.parts)


def test_the_chiptune_lead_is_a_square_wave() -> None:
    spec = interpret("upbeat 8-bit chiptune at 150 bpm", embedder=None)
    assert spec.lead is not None and spec.lead.program == 80
    assert interpret_detailed("upbeat 8-bit chiptune at 150 bpm", embedder=None).drum_style == "chiptune"


def test_options_beat_the_prompt() -> None:
    spec = interpret("melancholic lo-fi piano, 72 bpm, A minor, 30 seconds", bpm=90, key="F# major",
                     duration_s=12, embedder=None)  # fmt: skip
    assert spec.tempo_bpm == 90 and spec.key == Key(6, "major") and spec.duration_s == 12
    sources = {e.what: e.source for e in spec.evidence}
    assert sources["tempo"] == sources["key"] == sources["length"] == "option"
    assert {"tempo", "key", "duration"} <= spec.explicit


def test_explicit_beats_inference() -> None:
    # Lullabies are slow, drumless and major; the prompt says otherwise, and wins.
    spec = interpret("lullaby at 160 bpm in F minor with drums in 5/4", embedder=None)
    assert spec.genres[0] == "lullaby"
    assert (spec.tempo_bpm, spec.key, spec.time_signature, spec.drums) == (160, Key(5, "minor"), (5, 4), True)
    # Metal has drums; "no drums" removes them. A stated mode is kept with a prompt-picked tonic.
    metal = interpret("metal without drums in a major key", embedder=None)
    assert not metal.drums and metal.key.mode == "major"


def test_bars_become_a_length_at_the_tempo() -> None:
    spec = interpret("16 bars of house at 120 bpm", embedder=None)
    assert spec.duration_s == pytest.approx(16 * 4 * 60 / 120)


def test_bad_options_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="bpm"):
        interpret("anything", bpm=1000, embedder=None)
    with pytest.raises(ValueError, match="key"):
        interpret("anything", key="H major", embedder=None)
    with pytest.raises(ValueError, match="duration"):
        interpret("anything", duration_s=0, embedder=None)


def test_evidence_names_the_words() -> None:
    spec = interpret("melancholic lo-fi piano, 72 bpm, A minor", embedder=None)
    by_what = {e.what: e for e in spec.evidence}
    assert by_what["tempo"].words == ("72 bpm",) and by_what["tempo"].source == "explicit"
    assert by_what["key"].words == ("A minor",)
    assert by_what["lead"].words == ("piano",) and by_what["lead"].source == "explicit"
    assert "lo-fi" in by_what["genre"].words and "melancholic" in by_what["mood"].words
    lines = spec.summary_lines()
    assert 'tempo: 72 bpm ← "72 bpm" (stated)' in lines
    assert any(line.startswith("meaning match: meaning match off") for line in lines)


def test_drums_words_reach_the_evidence() -> None:
    spec = interpret("ambient drone, no drums", embedder=None)
    drums = next(e for e in spec.evidence if e.what == "drums")
    assert drums.words == ("no drums",) and drums.source == "explicit"


def test_sunday_morning_coffee_is_relaxed_and_acoustic(embedder: Embedder | None) -> None:
    spec = interpret("sunday morning coffee", embedder=embedder)
    assert set(spec.genres) & {"jazz", "bossa nova", "folk"}
    assert {"coffee shop", "morning"} <= set(spec.tags)
    assert spec.arousal < 0.5 and spec.valence > 0
    assert set(spec.moods) & {"chill", "calm", "happy", "hopeful"}


def test_rainy_night_in_tokyo_is_lofi_and_melancholic(embedder: Embedder | None) -> None:
    spec = interpret("rainy night in tokyo", embedder=embedder)
    assert spec.genres[0] in {"lo-fi", "city pop", "jazz", "trip hop"}
    assert set(spec.moods) & {"melancholic", "sad", "chill", "dreamy"}
    assert {"rain", "night", "city"} <= set(spec.tags)
    assert spec.valence < 0.1


def test_meaning_match_finds_what_keywords_miss(real_embedder: Embedder) -> None:
    # No keyword names a mood here; by meaning "something to cry to" is sad.
    off = interpret_detailed("something to cry to", embedder=None)
    on = interpret_detailed("something to cry to", embedder=real_embedder)
    assert on.meaning_match and not off.meaning_match
    meaning = [m for m in on.matches if m.source == "meaning"]
    assert any(m.tag.name == "sad" for m in meaning)
    sad = next(e for e in on.spec.evidence if e.what == "mood" and e.value.startswith("sad"))
    assert sad.source == "meaning"
    assert any(line.startswith("meaning match: meaning match on") for line in on.spec.summary_lines())


def test_meaning_match_off_says_why(tmp_path: Path) -> None:
    broken = Embedder(model_dir=tmp_path / "missing")
    spec = interpret("rainy night in tokyo", embedder=broken)
    note = next(e for e in spec.evidence if e.what == "meaning match")
    assert "meaning match off" in note.value and "missing" in note.value
    assert spec.genres  # keywords still work


def test_same_prompt_same_spec_and_tonic_varies_by_prompt() -> None:
    a = interpret("a happy pop song", embedder=None)
    assert a == interpret("a happy pop song", embedder=None)
    tonics = {interpret(f"a happy pop song number {i}", embedder=None).key.tonic for i in range(12)}
    assert len(tonics) > 3


def test_ambient_energy_is_a_flat_loop_and_pop_has_a_shape() -> None:
    ambient = interpret("ambient soundscape", embedder=None).energy_curve
    pop = interpret("energetic pop anthem", embedder=None).energy_curve
    assert max(ambient) - min(ambient) < 0.1
    assert pop[2] == max(pop) and pop[0] < pop[2] and pop[4] < pop[2]


def test_excluded_instrument_is_replaced_not_kept() -> None:
    spec = interpret("jazz trio with no piano", embedder=None)
    assert 0 not in _programs(spec)
    assert any(p.role == "chords" for p in spec.parts)
    assert spec.moods != ("sad",)  # "no" is a statement, not a feeling


def test_not_sad_is_not_a_sad_mood() -> None:
    assert "sad" not in interpret("not sad at all, a bright pop tune", embedder=None).moods


def test_interpretation_carries_drum_style_and_swing() -> None:
    jazz = interpret_detailed("swinging jazz club", embedder=None)
    assert jazz.drum_style == "jazz_swing" and 0.2 <= jazz.swing <= 0.5
    waltz = interpret_detailed("waltz", embedder=None)
    assert waltz.drum_style == "waltz"
    none = interpret_detailed("ambient drone, no drums", embedder=None)
    assert none.drum_style == "none"


def test_vocabulary_is_big_documented_and_consistent() -> None:
    counts = {
        c: sum(t.category == c for t in TAGS) for c in ("genre", "mood", "activity", "instrument", "era")
    }
    assert len(TAGS) >= 60 and counts["genre"] >= 25 and counts["mood"] >= 15
    assert counts["activity"] >= 10 and counts["instrument"] >= 10 and counts["era"] >= 6
    assert len({t.name for t in TAGS}) == len(TAGS)
    for tag in TAGS:
        assert tag.keywords and tag.description.endswith(".")
        assert tag.drum_style is None or tag.drum_style in DRUM_STYLES
        assert all(0 <= p <= 127 for _, p in tag.instruments)
    assert DOCS.read_text(encoding="utf-8") == vocabulary_markdown()
