"""The song backend's modals: long, multi-line lyrics and a repaint's time range, typed in Discord.

Slash-command options are one line; a modal's paragraph field holds 4000 characters over many lines,
so lyrics with [verse]/[chorus] tags are written here. What is typed goes to the engine unchanged; it
checks it (services/engine.check_song, derive_song) and a mistake comes back as a private message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord

from services.songs.lyrics import MAX_LYRICS_CHARS
from services.songs.ranges import parse_time

OnLyrics = Callable[[discord.Interaction[Any], str], Awaitable[None]]
OnRepaint = Callable[[discord.Interaction[Any], float, float, str | None], Awaitable[None]]
OnError = Callable[[discord.Interaction[Any], BaseException], Awaitable[None]]


class LyricsModal(discord.ui.Modal, title="Write lyrics"):
    """Lyrics for a new song (`/music song write_lyrics:True`) or a new take of one (the button)."""

    lyrics: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Lyrics ([verse], [chorus] tags are kept)",
        custom_id="pj-song-lyrics",
        style=discord.TextStyle.paragraph,
        placeholder="[verse]\nRain on the window, coffee gone cold\n[chorus]\n…",
        max_length=MAX_LYRICS_CHARS,
        required=True,
    )

    def __init__(self, on_submit: OnLyrics, on_error: OnError, *, current: str | None = None) -> None:
        super().__init__(timeout=30 * 60)
        self._on_submit = on_submit
        self._on_error = on_error
        if current:
            self.lyrics.default = current[:MAX_LYRICS_CHARS]

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await self._on_submit(interaction, self.lyrics.value)
        except Exception as exc:
            await self._on_error(interaction, exc)


class RepaintModal(discord.ui.Modal, title="Repaint part of the song"):
    """A time range to sing again, and optionally new words for it."""

    start: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="From (seconds or m:ss)", placeholder="0:30", max_length=12, custom_id="pj-repaint-start"
    )
    end: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="To (seconds or m:ss)", placeholder="0:45", max_length=12, custom_id="pj-repaint-end"
    )
    words: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="New words for that part (optional)",
        custom_id="pj-repaint-words",
        style=discord.TextStyle.paragraph,
        max_length=MAX_LYRICS_CHARS,
        required=False,
    )

    def __init__(self, on_submit: OnRepaint, on_error: OnError) -> None:
        super().__init__(timeout=30 * 60)
        self._on_submit = on_submit
        self._on_error = on_error

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        try:
            start, end = parse_time(self.start.value), parse_time(self.end.value)
            await self._on_submit(interaction, start, end, self.words.value or None)
        except Exception as exc:
            await self._on_error(interaction, exc)
