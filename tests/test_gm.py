"""General MIDI tables: exact names, aliases people type, and the percussion map."""

from __future__ import annotations

import pretty_midi
import pytest

from services.score import gm


def test_tables_have_the_gm_shape() -> None:
    assert len(gm.PROGRAM_NAMES) == 128
    assert len(set(gm.PROGRAM_NAMES)) == 128
    assert len(gm.FAMILIES) == 16
    assert sorted(gm.DRUM_NAMES) == list(range(35, 82))
    assert gm.program_name(80) == "lead 1 (square)"
    assert gm.program_name(0) == "acoustic grand piano"
    assert gm.program_family(42) == "strings"
    assert gm.program_family(80) == "synth lead"
    assert gm.drum_name(42) == "closed hi-hat"


@pytest.mark.parametrize("program", range(128))
def test_every_exact_name_and_number_round_trips(program: int) -> None:
    assert gm.program_for_name(gm.program_name(program)) == program
    assert gm.program_for_name(gm.program_name(program).upper()) == program
    assert gm.program_for_name(str(program)) == program


def test_pretty_midis_independent_names_map_to_the_same_programs() -> None:
    # pretty_midi spells some names differently ("Clavinet", "SynthStrings 1"); all must still resolve.
    for program in range(128):
        assert gm.program_for_name(pretty_midi.program_to_instrument_name(program)) == program
    for key in range(35, 82):
        assert gm.drum_key_for_name(pretty_midi.note_number_to_drum_name(key)) == key


@pytest.mark.parametrize(
    ("text", "program"),
    [
        ("piano", 0), ("Rhodes", 4), ("electric piano", 4), ("strings", 48), ("cello", 42), ("sax", 65),
        ("tenor sax", 66), ("808 bass", 38), ("808", 38), ("synth pad", 89), ("8-bit", 80), ("chiptune", 80),
        ("flute", 73), ("acoustic guitar", 25), ("nylon guitar", 24), ("electric guitar", 27),
        ("distorted guitar", 30), ("choir", 52), ("upright bass", 32), ("bass", 33), ("harp", 46),
        ("organ", 16), ("church organ", 19), ("trumpet", 56), ("brass", 61), ("vibes", 11), ("kalimba", 108),
        ("steel drums", 114), ("pianos", 0), ("violins", 40), ("Lead 2 (Sawtooth)", 81), ("lead 1", 80),
        ("pad 2", 89), ("program 33", 33), ("  HONKY-TONK piano ", 3), ("lead 8 (bass + lead)", 87),
    ],
)  # fmt: skip
def test_aliases(text: str, program: int) -> None:
    assert gm.program_for_name(text) == program


@pytest.mark.parametrize("text", ["", "kazoo orchestra", "128", "-1", "drums", "banana"])
def test_unknown_programs_are_none(text: str) -> None:
    assert gm.program_for_name(text) is None


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("kick", 36), ("bass drum", 36), ("snare", 38), ("closed hihat", 42), ("Closed Hi-Hat", 42),
        ("hi hat", 42), ("open hihat", 46), ("open hi-hat", 46), ("pedal hihat", 44), ("crash", 49),
        ("ride", 51), ("ride bell", 53), ("clap", 39), ("handclaps", 39), ("rim", 37), ("rimshot", 37),
        ("low tom", 45), ("floor tom", 41), ("high tom", 50), ("tambourine", 54), ("cowbell", 56),
        ("shaker", 70), ("conga", 62), ("triangle", 81), ("42", 42), ("kicks", 36),
    ],
)  # fmt: skip
def test_drum_aliases(text: str, key: int) -> None:
    assert gm.drum_key_for_name(text) == key


@pytest.mark.parametrize("text", ["", "34", "82", "piano", "banana"])
def test_unknown_drums_are_none(text: str) -> None:
    assert gm.drum_key_for_name(text) is None


def test_out_of_range_names_raise() -> None:
    with pytest.raises(ValueError):
        gm.program_name(128)
    with pytest.raises(ValueError):
        gm.drum_name(34)


def test_every_alias_points_at_a_real_program_or_key() -> None:
    assert all(0 <= p <= 127 for p in gm.PROGRAM_ALIASES.values())
    assert all(k in gm.DRUM_NAMES for k in gm.DRUM_ALIASES.values())
    assert gm.AMBIGUOUS_IN_PROSE <= set(gm.PROGRAM_ALIASES)
    phrases = gm.program_phrases()
    assert "vibes" not in phrases and "cello" in phrases and phrases["lead 1 square"] == 80
