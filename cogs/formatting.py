"""Discord presentation: safe echoes of user text, embeds, progress lines, Discord's size limits.

Everything that repeats what a user typed (or a model wrote, or someone's code raised) goes through
`safe_text`, and every message is sent with mentions disabled, so a prompt can never ping anyone or
post a live masked link. `fit_content` and `fit_embed` cut what we send to Discord's limits first:
a reply Discord refuses is a reply the user never sees.
"""

from __future__ import annotations

import re

import discord

from services.backends.base import BackendStatus
from services.errors import UserError, render_message
from services.jobs.models import JobRecord, MusicResult
from services.presenting import fmt_duration, result_facts
from services.untrusted import clean

NO_MENTIONS = discord.AllowedMentions.none()
EMBED_COLOUR = discord.Colour(0x7C5CFF)

# Discord's limits (https://discord.com/developers/docs/resources/message#create-message).
CONTENT_LIMIT = 2000
EMBED_TITLE_LIMIT = 256
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_FIELDS_LIMIT = 25
EMBED_FIELD_NAME_LIMIT = 256
EMBED_FIELD_VALUE_LIMIT = 1024
EMBED_FOOTER_LIMIT = 2048
EMBED_AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000
CHOICE_NAME_LIMIT = 100

# A bracket after an even run of backslashes (none included) is live markdown.
_UNESCAPED_BRACKET = re.compile(r"(?<!\\)((?:\\\\)*)([\[\]])")
_MENTION_SYNTAX = re.compile(r"<([@#])")


def safe_text(text: str, limit: int = 200) -> str:
    """User text for display: one line, cut to `limit` characters, inert in Discord.

    Controls and direction overrides go (`services.untrusted.clean`); markdown is escaped; every
    bracket is escaped, so no `[label](url)` masked link survives (discord.py escapes only the first
    of several); mentions, even unpingable ones (<@123>, <@&5>, <#7>), are broken up.
    """
    text = clean(text, limit).replace("\\", "\\\\")  # the user's backslashes can't cancel our escapes
    text = discord.utils.escape_markdown(text)
    text = _UNESCAPED_BRACKET.sub(r"\1\\\2", text)
    text = discord.utils.escape_mentions(text)
    return _MENTION_SYNTAX.sub("<\u200b\\1", text)


def _outside_value(value: str) -> str:
    """How a value from outside reads inside one of our messages (a UserError's or a stored failure's)."""
    return safe_text(value, 300)


def user_error_text(error: UserError) -> str:
    """A UserError for Discord: our words as written, every value from outside through `safe_text`."""
    return error.render(_outside_value)


def warning_text(error: UserError) -> str:
    """The whole reply for a UserError: the warning sign, the message, within Discord's limit."""
    return fit_text(f"⚠️ {user_error_text(error)}", CONTENT_LIMIT)


def fit_text(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, marking the cut (never splitting an escape in two)."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)]
    if cut.endswith("\\") and not cut.endswith("\\\\"):
        cut = cut[:-1]
    return cut.rstrip() + "…"


def fit_content(text: str | None) -> str | None:
    """Message content within Discord's 2,000 characters."""
    return None if text is None else fit_text(text, CONTENT_LIMIT)


def fit_embed(embed: discord.Embed) -> discord.Embed:
    """`embed` cut to Discord's limits in place: each part, the number of fields, then the total."""
    if embed.title:
        embed.title = fit_text(embed.title, EMBED_TITLE_LIMIT)
    if embed.description:
        embed.description = fit_text(embed.description, EMBED_DESCRIPTION_LIMIT)
    fields = embed.fields[:EMBED_FIELDS_LIMIT]
    embed.clear_fields()
    for f in fields:
        embed.add_field(
            name=fit_text(f.name or "\u200b", EMBED_FIELD_NAME_LIMIT),
            value=fit_text(f.value or "\u200b", EMBED_FIELD_VALUE_LIMIT),
            inline=bool(f.inline),
        )
    if embed.footer.text:
        embed.set_footer(text=fit_text(embed.footer.text, EMBED_FOOTER_LIMIT), icon_url=embed.footer.icon_url)
    if embed.author.name:
        embed.set_author(
            name=fit_text(embed.author.name, EMBED_AUTHOR_LIMIT),
            url=embed.author.url,
            icon_url=embed.author.icon_url,
        )
    # Over the total: drop fields from the end, then shorten the description.
    while len(embed) > EMBED_TOTAL_LIMIT and embed.fields:
        embed.remove_field(len(embed.fields) - 1)
    if len(embed) > EMBED_TOTAL_LIMIT and embed.description:
        room = len(embed.description) - (len(embed) - EMBED_TOTAL_LIMIT)
        embed.description = fit_text(embed.description, max(1, room))
    return embed


def fit_choice_name(text: str) -> str:
    """An autocomplete choice's label: plain text (Discord shows it unformatted), at most 100 characters."""
    return clean(text, CHOICE_NAME_LIMIT)


def progress_content(prompt: str, line: str) -> str:
    return f"🎼 {line}\n> {safe_text(prompt, 180)}"


def result_embed(record: JobRecord, result: MusicResult) -> discord.Embed:
    embed = discord.Embed(
        title=safe_text(result.title, 240),
        description=f"> {safe_text(record.request.prompt, 300)}",
        colour=EMBED_COLOUR,
    )
    for label, value in result_facts(result):
        embed.add_field(name=label, value=safe_text(value, 1000), inline=label != "Tags")
    if result.summary:
        lines = [f"• {safe_text(line, 180)}" for line in result.summary[:12]]
        embed.add_field(name="What I understood", value="\n".join(lines), inline=False)
    if result.heard_lines:
        heard = "\n".join(f"• {safe_text(line, 120)}" for line in result.heard_lines[:6])
        embed.add_field(name="Asked → heard", value=heard, inline=False)
    if result.lyrics:
        embed.add_field(name="Lyrics", value=lyrics_text(result.lyrics, 1000), inline=False)
    if result.stems:
        embed.add_field(name="Stems", value=", ".join(name for name, _ in result.stems), inline=False)
    if result.notes:
        embed.add_field(name="Notes", value="\n".join(safe_text(n, 300) for n in result.notes), inline=False)
    if result.preview_path:
        embed.set_image(url="attachment://preview.png")
    # Footers show no markdown, but a name can still carry direction overrides.
    by = f"requested by {clean(record.request.user_name, 80)}" if record.request.user_name else ""
    embed.set_footer(text=f"job {record.job_id} · {by}".strip(" ·"))
    return fit_embed(embed)


def lyrics_text(lyrics: str, limit: int) -> str:
    """Song words for an embed: line by line, each made inert like any user text, cut to `limit`."""
    out: list[str] = []
    size = 0
    for line in lyrics.split("\n"):
        shown = safe_text(line, 120) if line.strip() else ""
        if size + len(shown) + 2 > limit - 1:
            out.append("…")
            break
        out.append(shown)
        size += len(shown) + 1
    return "\n".join(out) or "—"


def failure_reason(record: JobRecord) -> str:
    """Why a job failed, for Discord: our words as stored, the values from outside escaped."""
    if not record.error:
        return "Something went wrong."
    return render_message(record.error, record.error_values, _outside_value)


def failure_content(record: JobRecord) -> str:
    text = f"❌ I couldn't make that piece: {failure_reason(record)}"
    if record.error_id:
        text += f" (error id `{record.error_id}`)"
    return fit_text(text, CONTENT_LIMIT - 200) + f"\n> {safe_text(record.request.prompt, 180)}"


def backends_embed(statuses: list[BackendStatus]) -> discord.Embed:
    embed = discord.Embed(title="Backends", colour=EMBED_COLOUR)
    for status in statuses:
        mark = "✅" if status.available else "⛔"
        value = status.description or "—"
        if not status.available:
            value += f"\n**Not available:** {status.reason}"
        embed.add_field(name=f"{mark} {status.name}", value=value, inline=False)
    return fit_embed(embed)


def duration_text(seconds: float) -> str:
    return fmt_duration(seconds)
