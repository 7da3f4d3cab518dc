"""Admit, defer, submit: how every slash command and button starts a job (music and jams alike).

Why one helper: the order matters and was written three times. Admission (policy, limits) runs
before the defer, so a refusal is a private answer; the defer comes within Discord's 3 s; the job is
recorded right after, before any slow work (an attachment is fetched by the job service afterwards).
The Deliverer holds its progress edits until the first edit here is made, so they never cross.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import discord

from cogs.delivery import Deliverer
from cogs.formatting import NO_MENTIONS, progress_content, warning_text
from services.engine import Engine
from services.errors import UserError
from services.jobs.models import INTERACTION_TOKEN_LIFETIME_S, DiscordDelivery, JobState, MusicRequest

log = logging.getLogger(__name__)


def _status_line(engine: Engine, job_id: str, state: JobState) -> str:
    if state is JobState.FETCHING:
        return "Downloading your file"
    position = engine.position_of(job_id)
    return f"Queued · position {position}" if position else "Starting"


async def start_job(
    interaction: discord.Interaction[Any], engine: Engine, deliverer: Deliverer, request: MusicRequest
) -> None:
    """Start `request` for this interaction; its job id is the interaction id (idempotent)."""
    job_id = str(interaction.id)
    engine.admit(request, reserve=job_id)  # raises UserError before anything is public
    ready = deliverer.expect(job_id)
    try:
        await interaction.response.defer(thinking=True)
        delivery = DiscordDelivery(
            application_id=interaction.application_id,
            interaction_token=interaction.token,
            token_expires_at=time.time() + INTERACTION_TOKEN_LIFETIME_S,
            channel_id=interaction.channel_id,
        )
        try:
            record = await engine.submit(job_id, request, delivery)
        except UserError as exc:
            await interaction.edit_original_response(content=warning_text(exc), allowed_mentions=NO_MENTIONS)
            return
        try:
            await interaction.edit_original_response(
                content=progress_content(request.prompt, _status_line(engine, job_id, record.state)),
                allowed_mentions=NO_MENTIONS,
            )
        except discord.HTTPException as exc:
            # The job is accepted and recorded: its progress and result still come (the Deliverer
            # retries, then posts in the channel). Saying "something went wrong" here would be untrue.
            log.info("job %s: first progress edit failed (%s); the job goes on", job_id, exc)
    finally:
        engine.release(job_id)  # no-op once submitted
        ready.set()
