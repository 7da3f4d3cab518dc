"""Song words as users give them: tidied the way ACE-Step reads them, or refused with a reason."""

from __future__ import annotations

import pytest

from services.errors import UserError
from services.songs.lyrics import (
    INSTRUMENTAL,
    LANGUAGES,
    MAX_LYRICS_CHARS,
    beats_per_bar,
    clean_lyrics,
    is_instrumental,
    language_code,
    metre_name,
)


def test_section_tags_and_lines_are_kept() -> None:
    text = "[verse]\nRain on the window\nlight in the hall\n\n[chorus]\nSing it out loud"
    assert clean_lyrics(text) == text


def test_lines_are_trimmed_and_blank_runs_squeezed() -> None:
    text = "\n\n  [Verse]  \r\n  first line  \r\n\r\n\r\n\r\n[Chorus]\r\nsecond line   \n\n\n"
    assert clean_lyrics(text) == "[Verse]\nfirst line\n\n[Chorus]\nsecond line"


def test_one_line_input_with_slashes_becomes_lines() -> None:
    assert clean_lyrics("[verse] / hello rain / goodbye sun") == "[verse]\nhello rain\ngoodbye sun"
    assert clean_lyrics(r"hello rain\ngoodbye sun") == "hello rain\ngoodbye sun"  # a typed "\n"
    # a slash inside a word, or in multi-line text, is part of the words
    assert clean_lyrics("AC/DC forever") == "AC/DC forever"
    assert clean_lyrics("one / two\nthree") == "one / two\nthree"


def test_nothing_given_is_none_and_instrumental_passes() -> None:
    assert clean_lyrics(None) is None
    assert clean_lyrics("[Instrumental]") == INSTRUMENTAL
    assert clean_lyrics("  [instrumental]  \n") == INSTRUMENTAL
    assert is_instrumental(INSTRUMENTAL) and is_instrumental("") and is_instrumental(None)
    assert not is_instrumental("[verse]\nla la")


def test_lyrics_at_the_limit_pass_and_over_it_are_refused() -> None:
    at_limit = "la " * (MAX_LYRICS_CHARS // 3)
    assert len(at_limit) <= MAX_LYRICS_CHARS and clean_lyrics(at_limit) == at_limit.strip()
    with pytest.raises(UserError, match=f"under {MAX_LYRICS_CHARS:,}") as refused:
        clean_lyrics("a" * (MAX_LYRICS_CHARS + 1))
    assert f"{MAX_LYRICS_CHARS + 1:,} characters" in refused.value.message


@pytest.mark.parametrize("text", ["", "   ", "\n \n\t\n", "[verse]", "[verse]\n\n[chorus]\n  [bridge]  "])
def test_nothing_to_sing_is_refused(text: str) -> None:
    with pytest.raises(UserError, match="nothing to sing"):
        clean_lyrics(text)


@pytest.mark.parametrize(
    "mention",
    ["<@123>", "<@!123>", "<@&5>", "<#9>", "@everyone", "@here", "@Everyone", "@HERE"],
)
def test_mentions_are_refused(mention: str) -> None:
    with pytest.raises(UserError, match="can't contain mentions"):
        clean_lyrics(f"[verse]\nhello {mention} and friends")


def test_words_that_only_look_like_mentions_pass() -> None:
    assert (
        clean_lyrics("mail me at me@example.com\nwhere are you") == "mail me at me@example.com\nwhere are you"
    )
    assert clean_lyrics("channel #9 on the radio") == "channel #9 on the radio"


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("en", "en"),
        ("EN", "en"),
        (" es ", "es"),
        ("Japanese", "ja"),
        ("german ", "de"),
        ("yue", "yue"),
        ("Cantonese", "yue"),
        (None, "en"),
        ("", "en"),
        ("  ", "en"),
    ],
)
def test_language_codes_and_names(typed: str | None, code: str) -> None:
    assert language_code(typed) == code


def test_every_language_is_known_by_code_and_name() -> None:
    for code, name in LANGUAGES.items():
        assert language_code(code) == code and language_code(name) == code


@pytest.mark.parametrize("typed", ["klingon", "xx", "english please"])
def test_unknown_languages_are_refused_with_choices(typed: str) -> None:
    with pytest.raises(UserError) as refused:
        language_code(typed)
    assert typed in refused.value.message and "en, es, ja" in refused.value.message


@pytest.mark.parametrize(
    ("typed", "beats"),
    [
        ("4/4", 4),
        ("3/4", 3),
        ("6/8", 6),
        ("2/4", 2),
        (" 3 / 4 ", 3),
        ("4", 4),
        (3, 3),
        ("", None),
        ("  ", None),
        (None, None),
    ],
)
def test_beats_per_bar(typed: str | int | None, beats: int | None) -> None:
    assert beats_per_bar(typed) == beats


@pytest.mark.parametrize("typed", ["5/4", "7/8", "12/8", "waltz", "4/4/4", 5])
def test_metres_ace_step_does_not_know_are_refused(typed: str | int) -> None:
    with pytest.raises(UserError, match="2/4, 3/4, 4/4 and 6/8") as refused:
        beats_per_bar(typed)
    assert str(typed) in refused.value.message


def test_metre_names() -> None:
    assert [metre_name(b) for b in (2, 3, 4, 6)] == ["2/4", "3/4", "4/4", "6/8"]
    assert all(beats_per_bar(metre_name(b)) == b for b in (2, 3, 4, 6))
