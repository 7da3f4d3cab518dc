"""The bot: a commands.Bot that opens the engine in setup_hook, loads the cogs as extensions, and
closes everything on the way out.

The engine (jobs, jams, per-server settings) and the Deliverer (progress and results for every job,
jam renders included) belong to the bot, not to a cog: cogs translate Discord to engine calls and back.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from discord.ext import commands

from bot.commands_sync import sync_if_changed
from cogs.delivery import Deliverer
from services.engine import Engine
from services.jobs.executors import Executor
from services.settings import Settings

log = logging.getLogger(__name__)

# The cogs, loaded as extensions (each module's `setup`), in this order.
EXTENSIONS = ("cogs.music", "cogs.jams")


class PromptJamBot(commands.Bot):
    """promptjam on Discord. Slash commands only: no message content intent needed."""

    def __init__(
        self,
        settings: Settings,
        *,
        executor: Executor | None = None,
        sync_commands: bool = True,
        force_sync: bool = False,
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
        self._force_sync = force_sync
        self._engine: Engine | None = None
        self._deliverer: Deliverer | None = None
        self.set_up = False  # setup_hook finished: engine open, cogs loaded, commands synced

    @property
    def engine(self) -> Engine:
        """The services facade; open from setup_hook until close."""
        if self._engine is None:
            raise RuntimeError("the bot is not set up")
        return self._engine

    @property
    def deliverer(self) -> Deliverer:
        """Progress edits and delivery of every job's outcome, for live interactions and after restarts."""
        if self._deliverer is None:
            raise RuntimeError("the bot is not set up")
        return self._deliverer

    async def setup_hook(self) -> None:
        engine = Engine(self.settings, executor=self._executor)
        await engine.__aenter__()
        self._engine = engine
        # Answer /music backends instantly later: import the backends' light modules and probe the
        # sandbox once now, off the event loop.
        await asyncio.to_thread(engine.backends)
        self._deliverer = Deliverer(self, engine, interval_s=self.settings.progress_interval_s)
        self._deliverer.start()
        for name in EXTENSIONS:
            await self.load_extension(name)
        if self._sync_commands:
            await self.sync_commands(force=self._force_sync)
        self.set_up = True

    async def sync_commands(self, *, force: bool = False) -> bool:
        """Guild sync (instant) when DISCORD_GUILD_ID is set, global otherwise; only when the commands
        changed since the last sync from this data folder, unless `force`. True when it synced."""
        return await sync_if_changed(
            self.tree,
            application_id=self.application_id,
            guild_id=self.settings.discord_guild_id,
            data_dir=self.settings.data_dir,
            force=force,
        )

    async def on_ready(self) -> None:
        user = self.user
        log.info("logged in as %s (%s) in %d guild(s)", user, user.id if user else "?", len(self.guilds))

    async def shutdown(self, grace_s: float, *, hurry: asyncio.Event | None = None) -> None:
        """Stop cleanly: accept nothing new (users are told the bot is restarting), give running jobs
        `grace_s` to finish and be delivered, then close. Jobs still running are left 'running' in the
        database and resumed by the next start; queued ones simply wait for it."""
        if self._engine is not None and self._engine.is_open:
            left = await self._engine.jobs.drain(grace_s, hurry=hurry)
            if left:
                log.info("%d job(s) still running; they resume at the next start", len(left))
        await self.close()

    async def close(self) -> None:
        try:
            await super().close()  # unloads the extensions (their cogs stop their tasks), then the gateway
        finally:
            if self._deliverer is not None:
                await self._deliverer.stop()
                self._deliverer = None
            if self._engine is not None:
                await self._engine.__aexit__(None, None, None)
                self._engine = None
