"""Sync slash commands only when they changed since the last sync from this data folder.

Why: Discord rate-limits command syncs (a bulk overwrite per scope), and a global sync takes a while to
reach every client; syncing on every start also rewrites what users see mid-use. So the bot keeps a
fingerprint of what it last synced (the commands' JSON, the application and the scope) beside its data,
and syncs when that fingerprint changes, or when asked (`promptjam sync`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import discord
from discord import app_commands

log = logging.getLogger(__name__)

MARKER_NAME = "commands-synced.json"


def fingerprint(tree: app_commands.CommandTree[Any], application_id: int | None, guild_id: int | None) -> str:
    """What a sync would send, and where: the same commands to the same place give the same text."""
    commands = sorted(
        (command.to_dict(tree) for command in tree.get_commands()),
        key=lambda c: (int(c.get("type", 1)), str(c["name"])),
    )
    payload = {"application": application_id, "guild": guild_id, "commands": commands}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _read_marker(path: Path) -> str | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get("fingerprint") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


async def sync_if_changed(
    tree: app_commands.CommandTree[Any],
    *,
    application_id: int | None,
    guild_id: int | None,
    data_dir: Path,
    force: bool = False,
) -> bool:
    """Sync to the guild (instant) when `guild_id` is set, globally otherwise; True when it synced."""
    if guild_id:
        tree.copy_global_to(guild=discord.Object(guild_id))
    marker = data_dir / MARKER_NAME
    current = fingerprint(tree, application_id, guild_id)
    if not force and _read_marker(marker) == current:
        log.info("slash commands unchanged since the last sync; not syncing")
        return False
    if guild_id:
        synced = await tree.sync(guild=discord.Object(guild_id))
        log.info("synced %d commands to guild %s", len(synced), guild_id)
    else:
        synced = await tree.sync()
        log.info("synced %d global commands (they may take a while to appear)", len(synced))
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps({"fingerprint": current}), encoding="utf-8")
    tmp.replace(marker)
    return True
