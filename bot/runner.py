"""Start the bot process: logging, the client, and a clean stop on SIGTERM or Ctrl+C."""

from __future__ import annotations

import asyncio
import logging

import discord

from bot.client import PromptJamBot
from bot.logging_setup import setup_bot_logging
from bot.shutdown import StopSignals
from services.settings import Settings

log = logging.getLogger(__name__)

# After close(), how long the gateway task may take to notice before it is cancelled.
_RUNNER_EXIT_S = 10.0


async def _sync_and_exit(bot: PromptJamBot, token: str) -> None:
    async with bot:
        await bot.login(token)  # runs setup_hook, which opens the engine and syncs the commands
        log.info("commands synced")


async def serve(bot: PromptJamBot, token: str, *, grace_s: float) -> None:
    """Run the bot until its connection ends for good or a stop signal arrives, then stop it cleanly:
    no new jobs, `grace_s` for running ones to finish and be delivered, gateway closed, workers gone."""
    loop = asyncio.get_running_loop()
    signals = StopSignals()
    signals.install(loop)
    try:
        async with bot:
            runner = asyncio.create_task(bot.start(token), name="promptjam-bot")
            stop = asyncio.create_task(signals.requested.wait())
            try:
                await asyncio.wait({runner, stop}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
            if runner.done():
                runner.result()  # LoginFailure and friends reach run_bot
                return
            if not bot.set_up:
                # Still starting (opening the engine, syncing): no job can be running; stop the start
                # itself, and closing (below) cleans up whatever it had opened.
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)
            await bot.shutdown(grace_s, hurry=signals.hurry)
            await asyncio.wait({runner}, timeout=_RUNNER_EXIT_S)
            if not runner.done():
                runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)  # a start cut short may end in an error
            log.info("stopped")
    finally:
        signals.remove(loop)


def run_bot(settings: Settings, token: str, *, sync_only: bool = False) -> int:
    setup_bot_logging(settings, token)
    bot = PromptJamBot(settings, force_sync=sync_only)  # `promptjam sync` syncs even when unchanged
    try:
        if sync_only:
            asyncio.run(_sync_and_exit(bot, token))
        else:
            asyncio.run(serve(bot, token, grace_s=settings.shutdown_grace_s))
    except discord.LoginFailure:
        log.error("Discord rejected DISCORD_TOKEN: check the token in .env (Bot → Reset Token in the portal)")
        return 2
    except discord.PrivilegedIntentsRequired:
        log.error("the bot asked for a privileged intent that is not enabled in the developer portal")
        return 2
    return 0
