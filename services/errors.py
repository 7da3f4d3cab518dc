"""Errors a user can cause, with the message they should read.

Cogs and the command line show `UserError.message` as-is (ephemeral in Discord);
anything else is unexpected and gets a short error id plus a logged traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix; `message` is safe and friendly to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class QueueFull(UserError):
    """The global queue is at capacity."""


class RateLimited(UserError):
    """The user is sending jobs faster than their allowance."""


class TooManyJobs(UserError):
    """The user already has their maximum of jobs in flight."""


class UnknownJob(UserError):
    """No such job, or not yours."""


class BackendNotAvailable(UserError):
    """The chosen backend cannot run here; the message says why and how to fix it."""


class ShuttingDown(UserError):
    """The bot is stopping (a restart or a deploy); nothing new is accepted meanwhile."""
