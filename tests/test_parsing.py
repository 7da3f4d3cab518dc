"""Strict number parsing of what users type: ASCII digits only, bounded, within SQLite's INTEGER."""

from __future__ import annotations

import pytest

from cogs.jams import JamVoteButton
from services.parsing import MAX_SQLITE_INTEGER, parse_id
from services.prompting import parse_explicit
from services.score import gm
from services.score.theory import parse_pitch, parse_time_signature


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3", 3), ("#3", 3), (" 3 ", 3), ("\t#12\n", 12), ("007", 7), ("0", 0),
     (str(MAX_SQLITE_INTEGER), MAX_SQLITE_INTEGER), ("#" + str(MAX_SQLITE_INTEGER), MAX_SQLITE_INTEGER)],
)  # fmt: skip
def test_ids_that_can_exist(text: str, expected: int) -> None:
    assert parse_id(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", " ", "#", "##3", "# 3", "3#", "-1", "+3", "3.0", "1e3", "3 4", "0x1f", "three",
     "²", "³3", "٣", "１２", "߁", "𝟑",  # superscript, Arabic-Indic, fullwidth, NKo, mathematical digits
     str(MAX_SQLITE_INTEGER + 1), "99999999999999999999", "9" * 5000, "1" * 19 + "0", " " * 100 + "3"],
)  # fmt: skip
def test_everything_else_is_not_an_id(text: str) -> None:
    assert parse_id(text) is None


def test_button_ids_fit_sqlite_and_are_ascii() -> None:
    """The vote button's custom_id template is the other way text becomes an id: it must be as strict."""
    template = JamVoteButton.__discord_ui_compiled_template__
    assert template.fullmatch("pj:jv:keep:" + "9" * 18) and int("9" * 18) <= MAX_SQLITE_INTEGER
    for bad in ("9" * 19, "٣", "１２", "²", "", "-1"):
        assert template.fullmatch(f"pj:jv:keep:{bad}") is None, bad


def test_prompt_numbers_are_ascii_and_bounded() -> None:
    assert parse_explicit("piano, 30 seconds, 120 bpm, 3/4, 8 bars").duration_s == 30
    for prompt in ("piano ٣٠ seconds", "piano ３０ seconds", "piano " + "9" * 400 + "s",
                   "piano " + "9" * 900 + " minutes", "piano 1234567 seconds"):  # fmt: skip
        assert parse_explicit(prompt).duration_s is None, prompt[:30]
    assert parse_explicit("piano ١٢٠ bpm").tempo_bpm is None
    assert parse_explicit("piano ٣/٤").time_signature is None
    assert parse_explicit("٨ bars of piano").bars is None
    assert parse_explicit("piano 999999 seconds").duration_s == 999_999  # a number: the limit note applies


def test_option_numbers_are_ascii() -> None:
    assert gm.program_for_name("42") == 42 and gm.program_for_name("٤٢") is None
    assert parse_time_signature("3/4") == (3, 4)
    with pytest.raises(ValueError):
        parse_time_signature("٣/٤")
    with pytest.raises(ValueError):
        parse_pitch("C٤")
