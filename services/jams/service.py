"""The jam service: start, add, remove, vote, play and end, with the limits and the rules.

Cogs call this with plain ids and names and show what it returns; every refusal is a
UserError whose message a user can act on. Rendering is not done here: play and end
build a MusicRequest carrying a JamPlan, and the job system renders it like any job
(fair, persistent, delivered after restarts).
"""

from __future__ import annotations

import asyncio
import random
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from services.backends.base import BackendStatus
from services.backends.registry import backend_status
from services.errors import UserError, backend_cannot_run
from services.jams.models import (
    Contribution,
    ContributionState,
    Jam,
    JamState,
    Tally,
    VoteChoice,
    VoteOutcome,
)
from services.jams.store import JamExists, JamStore
from services.jams.timing import piece_length_s
from services.jobs.models import JamPlan, JamSegment, MusicRequest
from services.parsing import key_name
from services.policy import Policy
from services.settings import Settings

MAX_THEME_CHARS = 100  # a theme is a title, not a prompt
MAX_JAM_PROMPT_CHARS = 300  # one segment's prompt; longer ones are almost always pasted by mistake
MIN_SEGMENT_S = 1.0  # shorter segments are clicks, not music
MAX_SEGMENT_S = 30.0  # longer ones make a jam of a few prompts run past upload limits
BEATS_PER_BAR = 4  # jams are in 4/4: every backend can cut on its bar lines
_MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class JamOptions:
    """What /jam start was given, before validation."""

    theme: str | None = None  # what the jam is about
    bpm: float | None = None  # tempo; default JAM_DEFAULT_BPM
    key: str | None = None  # key; default C major
    bars: int | None = None  # bars per segment; default JAM_DEFAULT_BARS
    backend: str | None = None  # backend; default DEFAULT_BACKEND


@dataclass(frozen=True)
class JamSnapshot:
    """A jam with everything its card shows."""

    jam: Jam  # the jam
    contributions: tuple[Contribution, ...]  # every contribution, in jam order (any state)
    tallies: dict[int, Tally]  # votes per contribution id (missing: none)
    crossfade_s: float  # seam length used for 'length so far'

    @property
    def active(self) -> tuple[Contribution, ...]:
        return tuple(c for c in self.contributions if c.state is ContributionState.ACTIVE)

    @property
    def length_s(self) -> float:
        """Length of the piece as it stands."""
        return piece_length_s(len(self.active), self.jam.segment_s, self.crossfade_s)


class JamService:
    """Use as `async with JamService(settings, database, policy=engine.policy) as jams:`; shares the
    engine's database file and its policy (a jam's backend must be allowed where the jam opens)."""

    def __init__(
        self,
        settings: Settings,
        database: Path | str | None = None,
        *,
        policy: Policy,
        statuses: Callable[[str], BackendStatus] | None = None,
    ) -> None:
        self.settings = settings
        self.policy = policy
        # Where a backend's renders will run decides whether it can (workers elsewhere, or here).
        self._status = statuses or (lambda name: backend_status(name, settings))
        self.store = JamStore(database if database is not None else settings.database_file)
        self._lock = asyncio.Lock()  # limits are checked and applied as one step

    async def __aenter__(self) -> JamService:
        await self.store.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.store.close()

    # --- reading -------------------------------------------------------------------------------

    async def jam_in(self, channel_id: int) -> Jam:
        """The jam played in this channel or thread, or a UserError saying how to start one."""
        jam = await self.store.latest_jam_in(channel_id)
        if jam is None:
            raise UserError("There's no jam here yet — start one with `/jam start`.")
        return jam

    async def get(self, jam_id: str) -> Jam | None:
        return await self.store.get_jam(jam_id)

    async def snapshot(self, jam_id: str) -> JamSnapshot:
        jam = await self.store.get_jam(jam_id)
        if jam is None:
            raise UserError("That jam no longer exists.")
        contributions = tuple(await self.store.contributions(jam_id))
        tallies = await self.store.tallies(jam_id)
        return JamSnapshot(jam, contributions, tallies, self._crossfade_s(jam))

    def _crossfade_s(self, jam: Jam) -> float:
        return self.settings.jam_crossfade_beats * 60.0 / jam.bpm

    # --- starting ------------------------------------------------------------------------------

    async def start(
        self,
        jam_id: str,
        options: JamOptions,
        *,
        guild_id: int | None,
        channel_id: int,
        starter_id: int,
        starter_name: str,
    ) -> Jam:
        """Open a jam in a channel; one open jam per channel (and per jam thread)."""
        existing = await self.store.latest_jam_in(channel_id)
        if existing is not None and existing.state is JamState.OPEN:
            raise UserError(_already_open(existing))
        jam = Jam(
            id=jam_id,
            guild_id=guild_id,
            channel_id=channel_id,
            thread_id=None,
            starter_id=starter_id,
            starter_name=starter_name,
            theme=self._theme(options.theme),
            bpm=self._bpm(options.bpm),
            key=_key(options.key),
            bars=options.bars if options.bars is not None else self.settings.jam_default_bars,
            beats_per_bar=BEATS_PER_BAR,
            backend=self._backend(options.backend, guild_id),
            state=JamState.OPEN,
            created_at=time.time(),
        )
        if not 1 <= jam.bars <= 16:
            raise UserError("Bars per segment must be between 1 and 16.")
        if not MIN_SEGMENT_S <= jam.segment_s <= MAX_SEGMENT_S:
            raise UserError(
                f"{jam.bars} bars at {jam.bpm:g} bpm make {jam.segment_s:.1f} s segments; please choose "
                f"bars and tempo for segments between {MIN_SEGMENT_S:g} and {MAX_SEGMENT_S:g} seconds."
            )
        try:
            await self.store.insert_jam(jam)
        except JamExists:
            raced = await self.store.latest_jam_in(channel_id)
            raise UserError(
                _already_open(raced) if raced else "This channel already has an open jam."
            ) from None
        return jam

    async def set_home(
        self, jam_id: str, *, thread_id: int | None, card_channel_id: int, card_message_id: int
    ) -> Jam:
        """Record where the jam lives (its thread) and where its card is, so both survive restarts."""
        await self.store.set_home(
            jam_id, thread_id=thread_id, card_channel_id=card_channel_id, card_message_id=card_message_id
        )
        jam = await self.store.get_jam(jam_id)
        assert jam is not None
        return jam

    def _theme(self, theme: str | None) -> str:
        text = " ".join((theme or "").split())
        if len(text) > MAX_THEME_CHARS:
            raise UserError(f"Please keep the theme under {MAX_THEME_CHARS} characters.")
        return text

    def _bpm(self, bpm: float | None) -> float:
        value = float(bpm) if bpm is not None else float(self.settings.jam_default_bpm)
        if not 40 <= value <= 240:
            raise UserError("A jam's tempo must be between 40 and 240 bpm.")
        return value

    def _backend(self, backend: str | None, guild_id: int | None) -> str:
        """A backend that runs here and that this server allows (its renders are checked again at play)."""
        name = (backend or self.settings.default_backend).strip().lower()
        self.policy.check_backend(name, guild_id=guild_id)
        status = self._status(name)
        if not status.available:
            raise backend_cannot_run(name, status.reason)
        return name

    # --- contributions -------------------------------------------------------------------------

    async def add(
        self,
        channel_id: int,
        prompt: str,
        *,
        author_id: int,
        author_name: str,
        seed: int | None = None,
    ) -> tuple[Jam, Contribution]:
        """Add a prompt to the channel's open jam, within the per-user and per-jam limits."""
        text = " ".join((prompt or "").split())
        if not text:
            raise UserError("Please describe your part — the prompt is empty.")
        if len(text) > MAX_JAM_PROMPT_CHARS:
            raise UserError(
                f"That prompt is {len(text):,} characters; a jam part must stay under {MAX_JAM_PROMPT_CHARS}."
            )
        async with self._lock:
            jam = await self.jam_in(channel_id)
            if jam.state is not JamState.OPEN:
                raise UserError(
                    "This jam has ended, so it takes no more prompts — start a new one with `/jam start`."
                )
            active = [
                c for c in await self.store.contributions(jam.id) if c.state is ContributionState.ACTIVE
            ]
            mine = sum(1 for c in active if c.author_id == author_id)
            if mine >= self.settings.jam_max_per_user:
                raise UserError(
                    f"You already have {mine} prompts in this jam (the limit is "
                    f"{self.settings.jam_max_per_user}). Give others a turn, or `/jam remove` one of yours."
                )
            if len(active) >= self.settings.jam_max_contributions:
                raise UserError(
                    f"This jam is full ({self.settings.jam_max_contributions} prompts). "
                    "The starter can `/jam end` it, or a prompt can be removed first."
                )
            contribution = await self.store.insert_contribution(
                jam.id,
                author_id=author_id,
                author_name=author_name,
                prompt=text,
                seed=seed if seed is not None else random.randint(0, _MAX_SEED),
            )
        return jam, contribution

    async def remove(
        self,
        channel_id: int,
        contribution_id: int | None,
        *,
        user_id: int,
        is_moderator: bool,
    ) -> tuple[Jam, Contribution]:
        """Take a prompt out for good: your own (your latest if none is named), or any for a moderator."""
        async with self._lock:
            jam = await self.jam_in(channel_id)
            if jam.state is not JamState.OPEN:
                raise UserError("This jam has ended; its prompts can no longer change.")
            contributions = await self.store.contributions(jam.id)
            if contribution_id is None:
                mine = [
                    c
                    for c in contributions
                    if c.author_id == user_id and c.state is not ContributionState.REMOVED
                ]
                if not mine:
                    raise UserError("You have no prompts in this jam to remove.")
                target = mine[-1]
            else:
                found = [c for c in contributions if c.id == contribution_id]
                if not found:
                    raise UserError("I can't find that prompt in this jam — pick one from the list.")
                target = found[0]
            if target.author_id != user_id and not is_moderator:
                raise UserError(
                    f"You can only remove your own prompts — #{target.position} is "
                    f"{target.author_name}'s. Moderators can remove any prompt."
                )
            if target.state is ContributionState.REMOVED:
                raise UserError(f"Prompt #{target.position} was already removed.")
            await self.store.set_contribution_state(target.id, ContributionState.REMOVED)
        removed = await self.store.get_contribution(target.id)
        assert removed is not None
        return jam, removed

    async def contributions(self, jam_id: str) -> list[Contribution]:
        return await self.store.contributions(jam_id)

    # --- votes ---------------------------------------------------------------------------------

    def should_drop(self, tally: Tally) -> bool:
        """Enough skips, and more skips than keeps."""
        return tally.skips >= self.settings.jam_skip_threshold and tally.skips > tally.keeps

    async def vote(
        self, contribution_id: int, *, user_id: int, choice: VoteChoice
    ) -> tuple[Jam, VoteOutcome]:
        """One vote per user per prompt (a new vote replaces the old); drops or restores the prompt."""
        async with self._lock:
            contribution = await self.store.get_contribution(contribution_id)
            jam = await self.store.get_jam(contribution.jam_id) if contribution else None
            if contribution is None or jam is None:
                raise UserError("That prompt no longer exists.")
            if jam.state is not JamState.OPEN:
                raise UserError("This jam has ended; votes are closed.")
            if contribution.state is ContributionState.REMOVED:
                raise UserError(
                    f"Prompt #{contribution.position} was removed, so there is nothing to vote on."
                )
            await self.store.set_vote(contribution_id, user_id, choice)
            tally = await self.store.tally(contribution_id)
            drop = self.should_drop(tally)
            new_state = contribution.state
            if contribution.state is ContributionState.ACTIVE and drop:
                new_state = ContributionState.DROPPED
            elif contribution.state is ContributionState.DROPPED and not drop:
                new_state = ContributionState.ACTIVE
            if new_state is not contribution.state:
                await self.store.set_contribution_state(contribution_id, new_state)
            updated = await self.store.get_contribution(contribution_id)
        assert updated is not None
        return jam, VoteOutcome(updated, tally, changed_state=new_state is not contribution.state)

    # --- play and end --------------------------------------------------------------------------

    def _check_controller(self, jam: Jam, user_id: int, is_moderator: bool, what: str) -> None:
        if user_id != jam.starter_id and not is_moderator:
            raise UserError(f"Only the jam's starter ({jam.starter_name}) or a moderator can {what} it.")

    async def play(
        self,
        channel_id: int,
        *,
        user_id: int,
        user_name: str,
        is_moderator: bool,
        upload_limit_bytes: int,
    ) -> tuple[Jam, MusicRequest]:
        """A render of the jam as it stands (the starter or a moderator)."""
        jam = await self.jam_in(channel_id)
        self._check_controller(jam, user_id, is_moderator, "play")
        request = await self._render_request(
            jam, user_id=user_id, user_name=user_name, upload_limit_bytes=upload_limit_bytes, final=False
        )
        if request is None:
            raise UserError("Nothing to play yet — add a prompt with `/jam add`.")
        return jam, request

    async def end(
        self,
        channel_id: int,
        *,
        user_id: int,
        user_name: str,
        is_moderator: bool,
        upload_limit_bytes: int,
    ) -> tuple[Jam, MusicRequest | None]:
        """Close the jam; the final render's request, or None when it has no prompts in play."""
        async with self._lock:
            jam = await self.jam_in(channel_id)
            if jam.state is not JamState.OPEN:
                raise UserError("This jam has already ended — start a new one with `/jam start`.")
            self._check_controller(jam, user_id, is_moderator, "end")
            await self.store.end_jam(jam.id)
        ended = await self.store.get_jam(jam.id)
        assert ended is not None
        request = await self._render_request(
            ended, user_id=user_id, user_name=user_name, upload_limit_bytes=upload_limit_bytes, final=True
        )
        return ended, request

    async def _render_request(
        self, jam: Jam, *, user_id: int, user_name: str, upload_limit_bytes: int, final: bool
    ) -> MusicRequest | None:
        active = [c for c in await self.store.contributions(jam.id) if c.state is ContributionState.ACTIVE]
        if not active:
            return None
        plan = JamPlan(
            jam_id=jam.id,
            theme=jam.theme,
            bpm=jam.bpm,
            key=jam.key,
            bars=jam.bars,
            beats_per_bar=jam.beats_per_bar,
            crossfade_beats=self.settings.jam_crossfade_beats,
            segments=tuple(JamSegment(c.id, c.prompt, c.seed, c.author_id, c.author_name) for c in active),
            final=final,
        )
        title = f"Prompt jam: {jam.theme}" if jam.theme else "Prompt jam"
        return MusicRequest(
            prompt=f"{title} ({len(active)} prompt{'s' if len(active) != 1 else ''})",
            backend=jam.backend,
            duration_s=piece_length_s(len(active), jam.segment_s, self._crossfade_s(jam)),
            seed=zlib.crc32(jam.id.encode()) & _MAX_SEED,
            bpm=jam.bpm,
            key=jam.key,
            user_id=user_id,
            user_name=user_name,
            guild_id=jam.guild_id,
            channel_id=jam.home_channel_id,
            upload_limit_bytes=upload_limit_bytes,
            jam=plan,
        )


def _already_open(jam: Jam) -> str:
    where = f"<#{jam.thread_id}>" if jam.thread_id else "this channel"
    return (
        f"There's already an open jam here (in {where}). Add to it with `/jam add`, "
        "or its starter can `/jam end` it first."
    )


def _key(key: str | None) -> str:
    return key_name((key or "C major").strip())
