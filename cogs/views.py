"""Result buttons that keep working after a restart.

Each button is a DynamicItem whose custom_id carries the action and the job id
(`pj:reroll:<job>`), so any click, on any message, at any time after a restart,
is routed back to the music cog without keeping view objects in memory.
"""

from __future__ import annotations

import re
from typing import Any

import discord

ACTIONS: dict[str, tuple[str, str, discord.ButtonStyle]] = {
    "reroll": ("Reroll", "🎲", discord.ButtonStyle.primary),
    "extend": ("Extend", "⏩", discord.ButtonStyle.secondary),
    "variation": ("Variation", "🔀", discord.ButtonStyle.secondary),
    "midi": ("MIDI", "🎹", discord.ButtonStyle.secondary),
    "repaint": ("Repaint", "🖌️", discord.ButtonStyle.secondary),
    "stems": ("Stems", "🎚️", discord.ButtonStyle.secondary),
    "lyrics": ("Write lyrics", "✍️", discord.ButtonStyle.secondary),
}
SONG_ACTIONS = ("reroll", "extend", "repaint", "stems", "lyrics")  # a song's buttons (the song backend)
PIECE_ACTIONS = ("reroll", "extend", "variation", "midi")  # every other piece's


async def _to_music_cog(interaction: discord.Interaction[Any], action: str, job_id: str) -> None:
    """Every result button's click goes to the music cog, which does the work."""
    cog = interaction.client.get_cog("Music")
    handler = getattr(cog, "handle_button", None)
    if handler is None:
        await interaction.response.send_message("Music is unavailable right now.", ephemeral=True)
        return
    await handler(interaction, action, job_id)


class JobButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"pj:(?P<action>reroll|extend|variation|midi|repaint|stems|lyrics):(?P<job>[A-Za-z0-9_-]{1,40})",
):
    """One of a result's buttons; the cog does the work."""

    def __init__(self, action: str, job_id: str) -> None:
        label, emoji, style = ACTIONS[action]
        super().__init__(
            discord.ui.Button(label=label, emoji=emoji, style=style, custom_id=f"pj:{action}:{job_id}")
        )
        self.action = action
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> JobButton:
        return cls(match["action"], match["job"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _to_music_cog(interaction, self.action, self.job_id)


class StemButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"pj:stem:(?P<stem>vocals|drums|bass|other):(?P<job>[A-Za-z0-9_-]{1,40})",
):
    """One stem of a Stems result whose stems did not fit one message: sends that stem privately."""

    def __init__(self, stem: str, job_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label=stem.capitalize(),
                emoji="🎚️",
                style=discord.ButtonStyle.secondary,
                custom_id=f"pj:stem:{stem}:{job_id}",
            )
        )
        self.stem = stem
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> StemButton:
        return cls(match["stem"], match["job"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _to_music_cog(interaction, f"stem:{self.stem}", self.job_id)


def result_view(
    job_id: str, *, has_midi: bool, song: bool = False, stems_offered: tuple[str, ...] = ()
) -> discord.ui.View:
    """A result's buttons: a song's (Repaint, Stems, Write lyrics…), a piece's, or a Stems result's stems."""
    view = discord.ui.View(timeout=None)
    if stems_offered:
        for stem in stems_offered:
            view.add_item(StemButton(stem, job_id))
        return view
    for action in SONG_ACTIONS if song else PIECE_ACTIONS:
        if action == "midi" and not has_midi:
            continue
        view.add_item(JobButton(action, job_id))
    return view
