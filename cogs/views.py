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
}


class JobButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"pj:(?P<action>reroll|extend|variation|midi):(?P<job>[A-Za-z0-9_-]{1,40})",
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
        cog = interaction.client.get_cog("Music")
        handler = getattr(cog, "handle_button", None)
        if handler is None:
            await interaction.response.send_message("Music is unavailable right now.", ephemeral=True)
            return
        await handler(interaction, self.action, self.job_id)


def result_view(job_id: str, *, has_midi: bool) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        if action == "midi" and not has_midi:
            continue
        view.add_item(JobButton(action, job_id))
    return view
