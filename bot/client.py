"""The bot: a commands.Bot that opens the engine in setup_hook and closes it on the way out."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from discord.ext import commands

from cogs.jams import JamsCog
from cogs.music import MusicCog
from cogs.views import JobButton
from services.engine import Engine
from services.jams.service import JamService
from services.jobs.executors import Executor
from services.settings import Settings

log = logging.getLogger(__name__)


class PromptJamBot(commands.Bot):
    """promptjam on Discord. Slash commands only: no message content intent needed."""

    def __init__(
        self,
        settings: Settings,
        *,
        executor: Executor | None = None,
        sync_commands: bool = True,
        **options: Any,
    ) -> None:
        intents = discord.Intents.default()
        # Privileged; only listening channels need it (attachments of plain messages).
        intents.message_content = settings.message_content_intent
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            **options,
        )
        self.settings = settings
        self._executor = executor
        self._sync_commands = sync_commands
        self.engine: Engine | None = None
        self.jams: JamService | None = None  # prompt jams: same database file as the engine's jobs
        self.set_up = False  # setup_hook finished: engine open, cogs loaded, commands synced

    async def setup_hook(self) -> None:
        self.engine = Engine(self.settings, executor=self._executor)
        await self.engine.__aenter__()
        # Answer /music backends instantly later: import the backends' light modules and probe the
        # sandbox once now, off the event loop.
        await asyncio.to_thread(self.engine.backends)
        self.add_dynamic_items(JobButton)
        music = MusicCog(self, self.engine)
        await self.add_cog(music)
        self.jams = await JamService(
            self.settings, self.settings.database_file, policy=self.engine.policy
        ).__aenter__()
        await self.add_cog(JamsCog(self, self.engine, self.jams, music.deliverer))  # it posts jam renders too
        if self._sync_commands:
            await self.sync_commands()
        self.set_up = True

    async def sync_commands(self) -> list[Any]:
        """Guild sync (instant) when DISCORD_GUILD_ID is set, global sync otherwise."""
        if self.settings.discord_guild_id:
            guild = discord.Object(self.settings.discord_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to guild %s", len(synced), self.settings.discord_guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d global commands (they may take a while to appear)", len(synced))
        return synced

    async def on_ready(self) -> None:
        user = self.user
        log.info("logged in as %s (%s) in %d guild(s)", user, user.id if user else "?", len(self.guilds))

    async def shutdown(self, grace_s: float, *, hurry: asyncio.Event | None = None) -> None:
        """Stop cleanly: accept nothing new (users are told the bot is restarting), give running jobs
        `grace_s` to finish and be delivered, then close. Jobs still running are left 'running' in the
        database and resumed by the next start; queued ones simply wait for it."""
        if self.engine is not None and self.engine.jobs is not None:
            left = await self.engine.jobs.drain(grace_s, hurry=hurry)
            if left:
                log.info("%d job(s) still running; they resume at the next start", len(left))
        await self.close()

    async def close(self) -> None:
        try:
            for name in list(self.cogs):
                await self.remove_cog(name)
        finally:
            await super().close()
            if self.jams is not None:
                await self.jams.__aexit__(None, None, None)
                self.jams = None
            if self.engine is not None:
                await self.engine.__aexit__(None, None, None)
                self.engine = None
