"""Text from outside, made inert for every surface: services.untrusted, UserError, cogs.formatting."""

from __future__ import annotations

import discord

from cogs.formatting import (
    CONTENT_LIMIT,
    EMBED_TOTAL_LIMIT,
    fit_content,
    fit_embed,
    safe_text,
    user_error_text,
    warning_text,
)
from services.errors import UserError, backend_cannot_run, render_message
from services.untrusted import clean
from tests.discord_text import assert_inert, live_masked_links, unescaped

HOSTILE = (
    "[FREE NITRO](https://evil.example/a) and [more](https://evil.example/b) "
    "@everyone <@123456789012345678> <@&987654321098765432> <#111111111111111111> "
    "\u202eevil\u202c \x00\x1b[31m"
)


def test_clean_removes_controls_and_direction_overrides_and_caps_length() -> None:
    assert clean("a\u202eb\u2066c\u200fd\x00e\x1bf") == "abcdef"
    assert clean("one\n two\tthree\r\n") == "one two three"
    assert clean("x" * 500, 10) == "x" * 9 + "…"
    assert clean("👍🏽 🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f") != ""  # emoji survive


def test_safe_text_leaves_no_live_link_mention_or_override() -> None:
    shown = safe_text(HOSTILE, 400)
    assert_inert(shown)
    # What a reader sees is still what was typed (minus the invisible controls).
    assert "FREE NITRO" in unescaped(shown.replace("\\[", "[").replace("\\]", "]")) or "FREE NITRO" in shown


def test_safe_text_user_backslashes_cannot_cancel_the_escapes() -> None:
    for text in (
        "\\[x](https://e.example)",
        "\\\\[x](https://e.example)",
        "a [b](https://c.example) \\\\[d](https://e.example)",
    ):
        assert not live_masked_links(safe_text(text)), text


def test_user_error_renders_values_escaped_for_discord_and_clean_for_plain_text() -> None:
    error = UserError("I don't know the key “{key}” — try `A minor`.", key="[x](https://evil.example) @here")
    assert error.message == "I don't know the key “[x](https://evil.example) @here” — try `A minor`."
    shown = user_error_text(error)
    assert_inert(shown)
    assert "`A minor`" in shown  # our own markdown stays
    assert UserError("braces {are} literal without values").message == "braces {are} literal without values"
    assert render_message("{missing}", {"other": "v"}) == "{missing} (v)"


def test_a_6000_character_value_is_echoed_once_and_short() -> None:
    name = "b" * 6000
    error = backend_cannot_run(name, "there is no backend called that (try one of: styles, notes)")
    text = warning_text(error)
    assert len(text) <= CONTENT_LIMIT
    assert text.count("bbbbbbbbbb") <= 40  # one cut echo, not the whole value (twice)
    assert "no backend called that" in text


def test_fit_content_and_fit_embed_respect_discord_limits() -> None:
    assert fit_content("z" * 5000) is not None and len(fit_content("z" * 5000) or "") == CONTENT_LIMIT
    embed = discord.Embed(title="t" * 400, description="d" * 5000)
    for i in range(30):
        embed.add_field(name=f"n{i}" * 200, value="v" * 2000)
    embed.set_footer(text="f" * 3000)
    fit_embed(embed)
    assert len(embed) <= EMBED_TOTAL_LIMIT and len(embed.footer.text or "") <= 2048

    embed = discord.Embed(title="t" * 400, description="d" * 3000)
    for i in range(30):
        embed.add_field(name=f"n{i}", value="v" * 2000)
    fit_embed(embed)
    assert len(embed.title or "") <= 256 and len(embed.description or "") <= 4096
    assert len(embed.fields) <= 25 and all(len(f.value or "") <= 1024 for f in embed.fields)
    assert all(len(f.name or "") <= 256 for f in embed.fields)
    assert len(embed.footer.text or "") <= 2048
    assert len(embed) <= EMBED_TOTAL_LIMIT
    assert embed.fields, "fields are dropped from the end only as far as needed"


def test_fit_never_leaves_a_dangling_escape() -> None:
    text = safe_text("*" * 100, 100)  # every star escaped: \*\*\*…
    cut = fit_content(text * 30) or ""
    assert len(cut) <= CONTENT_LIMIT
    assert not cut.removesuffix("…").endswith("\\") or cut.removesuffix("…").endswith("\\\\")
