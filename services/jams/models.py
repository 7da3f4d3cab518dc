"""Plain data of a prompt jam: the jam, its contributions and the votes on them.

No Discord objects here: cogs turn these into embeds, the store into rows.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class JamState(enum.StrEnum):
    OPEN = "open"
    ENDED = "ended"


class ContributionState(enum.StrEnum):
    ACTIVE = "active"  # part of the piece
    DROPPED = "dropped"  # skipped by vote (comes back if the votes change)
    REMOVED = "removed"  # taken out by its author or a moderator (for good)


class VoteChoice(enum.StrEnum):
    KEEP = "keep"
    SKIP = "skip"


@dataclass(frozen=True)
class Jam:
    """A channel's shared piece: everything rendered in one tempo and key."""

    id: str  # the id of the interaction that started it (unique, and stable across restarts)
    guild_id: int | None  # where it was started (None in DMs)
    channel_id: int  # the channel /jam start was used in
    thread_id: int | None  # the thread the jam lives in, when the bot could open one
    starter_id: int  # who started it: controls play and end, like a moderator
    starter_name: str  # their display name, for the card
    theme: str  # what the jam is about ("" when none)
    bpm: float  # every segment's tempo
    key: str  # every segment's key ("A minor")
    bars: int  # bars per segment
    beats_per_bar: int  # metre: beats_per_bar/4
    backend: str  # backend that renders the segments
    state: JamState  # open or ended
    created_at: float  # unix time
    card_channel_id: int | None = None  # where the jam card (the embed kept up to date) was posted
    card_message_id: int | None = None  # the card message

    @property
    def home_channel_id(self) -> int:
        """Where the jam is played: its thread, or the channel when there is none."""
        return self.thread_id or self.channel_id

    @property
    def segment_s(self) -> float:
        """Seconds per segment: bars x beats per bar x 60 / bpm."""
        return self.bars * self.beats_per_bar * 60.0 / self.bpm


@dataclass(frozen=True)
class Contribution:
    """One prompt added to a jam; it becomes one segment of the piece."""

    id: int  # row id, also in the vote buttons' custom ids
    jam_id: str  # the jam it belongs to
    author_id: int  # who added it
    author_name: str  # their display name at the time (credits never mention anyone)
    prompt: str  # what they typed
    seed: int  # fixed at add time, so every render of the jam plays it the same way
    position: int  # 1-based order of adding within the jam; segments play in this order
    state: ContributionState  # active, dropped or removed
    created_at: float  # unix time


@dataclass(frozen=True)
class Tally:
    """Votes on one contribution."""

    keeps: int  # users who voted keep
    skips: int  # users who voted skip


@dataclass(frozen=True)
class VoteOutcome:
    """What one vote changed, for the voter's confirmation."""

    contribution: Contribution  # the contribution after the vote (its state may have changed)
    tally: Tally  # votes after this one
    changed_state: bool  # True when this vote dropped it or brought it back
