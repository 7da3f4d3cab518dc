"""What a user reads when something goes wrong, for every cog.

Errors a user can cause (UserError, failed checks, bad option values) are answered privately as
they are; anything else gets a short error id that is also in the log line with the traceback.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from typing import Any

import discord
from discord import app_commands

from cogs.formatting import NO_MENTIONS, fit_content, safe_text, warning_text
from services.errors import UserError
from services.jobs.service import new_error_id
from services.logtext import clip

log = logging.getLogger(__name__)


def friendly_transform_error(error: app_commands.TransformerError) -> str:
    value = error.value
    if isinstance(value, str) and len(value) > 100:
        return f"That text is {len(value):,} characters — too long for this option."
    return f"{safe_text(str(value), 40)} isn't a valid value here — please check the option and try again."


def error_message(interaction: discord.Interaction[Any], error: BaseException, *, context: str) -> str:
    """The message for `error`, logged at the right level (with a traceback and an id when unexpected)."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, UserError):
        log.info("%s: user error for %s: %s", context, interaction.user.id, clip(error.message))
        return warning_text(error)
    if isinstance(error, app_commands.CheckFailure):
        log.info("%s: check failed for %s: %s", context, interaction.user.id, clip(error))
        return f"⛔ {safe_text(str(error), 300)}"
    if isinstance(error, app_commands.TransformerError):
        log.info(
            "%s: bad option from %s: %s (value %s)",
            context,
            interaction.user.id,
            type(error).__name__,
            clip(error.value, 100),
        )
        return f"⚠️ {friendly_transform_error(error)}"
    error_id = new_error_id()
    log.error("%s: unexpected error [error %s]", context, error_id, exc_info=error)
    return f"❌ Something went wrong on my side (error id `{error_id}`). Please try again."


async def send_ephemeral(
    interaction: discord.Interaction[Any], message: str, *, edit_deferred: bool = False
) -> None:
    """Answer privately whether or not the interaction was answered; `edit_deferred` replaces a
    deferred 'thinking…' message instead of adding a follow-up."""
    message = fit_content(message) or "…"
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(message, ephemeral=True, allowed_mentions=NO_MENTIONS)
        elif edit_deferred:
            with suppress(discord.HTTPException):
                await interaction.edit_original_response(content=message, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.followup.send(message, ephemeral=True, allowed_mentions=NO_MENTIONS)
    except discord.HTTPException:
        log.warning("could not tell user %s about an error", interaction.user.id, exc_info=True)


async def report_error(
    interaction: discord.Interaction[Any], error: BaseException, *, context: str, edit_deferred: bool = False
) -> None:
    await send_ephemeral(
        interaction, error_message(interaction, error, context=context), edit_deferred=edit_deferred
    )
