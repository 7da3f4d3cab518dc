"""Discord presentation: safe echoes of user text, embeds, progress lines.

Everything that repeats what a user typed goes through `safe_text`, and every
message is sent with mentions disabled, so a prompt can never ping anyone.
"""

from __future__ import annotations

import re

import discord

from services.backends.base import BackendStatus
from services.jobs.models import JobRecord, MusicResult
from services.presenting import fmt_duration, result_facts

NO_MENTIONS = discord.AllowedMentions.none()
EMBED_COLOUR = discord.Colour(0x7C5CFF)


def safe_text(text: str, limit: int = 200) -> str:
    """User text for display: cut to `limit` characters, markdown and mentions neutralised."""
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    text = discord.utils.escape_markdown(text)
    text = discord.utils.escape_mentions(text)
    # Also neutralise mention syntax Discord would render (even unpingable), e.g. <@123>, <@&5>, <#7>.
    return re.sub(r"<([@#])", "<\u200b\\1", text)


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
        text = "\n".join(lines)
        embed.add_field(name="What I understood", value=text[:1024], inline=False)
    if result.notes:
        embed.add_field(
            name="Notes", value="\n".join(safe_text(n, 300) for n in result.notes)[:1024], inline=False
        )
    if result.preview_path:
        embed.set_image(url="attachment://preview.png")
    by = f"requested by {record.request.user_name}" if record.request.user_name else ""
    embed.set_footer(text=f"job {record.job_id} · {by}".strip(" ·")[:2048])
    return embed


def failure_content(record: JobRecord) -> str:
    reason = record.error or "Something went wrong."
    text = f"❌ I couldn't make that piece: {reason}"
    if record.error_id:
        text += f" (error id `{record.error_id}`)"
    return text + f"\n> {safe_text(record.request.prompt, 180)}"


def backends_embed(statuses: list[BackendStatus]) -> discord.Embed:
    embed = discord.Embed(title="Backends", colour=EMBED_COLOUR)
    for status in statuses:
        mark = "✅" if status.available else "⛔"
        value = status.description or "—"
        if not status.available:
            value += f"\n**Not available:** {status.reason}"
        embed.add_field(name=f"{mark} {status.name}", value=value[:1024], inline=False)
    return embed


def duration_text(seconds: float) -> str:
    return fmt_duration(seconds)
