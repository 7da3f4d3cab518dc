"""Start the bot process: logging, the client, and a clean exit on Ctrl+C."""

from __future__ import annotations

import asyncio
import logging

import discord

from bot.client import PromptJamBot
from bot.logging_setup import setup_bot_logging
from services.settings import Settings

log = logging.getLogger(__name__)


async def _sync_and_exit(bot: PromptJamBot, token: str) -> None:
    async with bot:
        await bot.login(token)  # runs setup_hook, which opens the engine and syncs the commands
        log.info("commands synced")


def run_bot(settings: Settings, token: str, *, sync_only: bool = False) -> int:
    setup_bot_logging(settings, token)
    bot = PromptJamBot(settings)
    try:
        if sync_only:
            asyncio.run(_sync_and_exit(bot, token))
        else:
            bot.run(token, log_handler=None)
    except discord.LoginFailure:
        log.error("Discord rejected DISCORD_TOKEN: check the token in .env (Bot → Reset Token in the portal)")
        return 2
    except discord.PrivilegedIntentsRequired:
        log.error("the bot asked for a privileged intent that is not enabled in the developer portal")
        return 2
    return 0
