"""Errors a user can cause, with the message they should read.

A message is our own text with `{placeholders}` for anything that did not come from us (what the
user typed, what a model wrote, what someone's code raised). The values travel beside the text, so
each surface shows them safely: the command line and the log get `clean` values, Discord gets them
escaped by the cogs (`cogs/formatting.py`). Anything that is not a UserError is unexpected and gets a
short error id plus a logged traceback, never its own text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from services.untrusted import clean

Show = Callable[[str], str]


class UserError(Exception):
    """Something the user can fix; `message` is safe and friendly to show.

    `UserError("I don't know the key {key}.", key=typed)`: `typed` is shown cut and made inert, never
    interpreted. Without values the text is used as it is (braces included).
    """

    def __init__(self, message: str, **values: object) -> None:
        self.template = message
        self.values: dict[str, str] = {name: str(value) for name, value in values.items()}
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """Plain text: values cleaned and cut (the command line, logs, stored failure reasons)."""
        return self.render(clean)

    def render(self, show: Show) -> str:
        """The message with each value passed through `show` (Discord escapes them)."""
        return render_message(self.template, self.values, show)


def render_message(template: str, values: Mapping[str, str], show: Show = clean) -> str:
    """`template` with its placeholders filled by `show(value)`; a template without values is literal."""
    if not values:
        return template
    try:
        return template.format_map({name: show(value) for name, value in values.items()})
    except (KeyError, IndexError, ValueError):  # a template that does not match its values: show both
        return template + " (" + ", ".join(show(v) for v in values.values()) + ")"


def literal(text: str) -> str:
    """Our own text (a status reason, say) made safe to put inside a message template."""
    return text.replace("{", "{{").replace("}", "}}")


def backend_cannot_run(name: str, reason: str) -> UserError:
    """The one message for a backend a request cannot use; `name` is what the user typed."""
    return BackendNotAvailable(
        "The **{backend}** backend can't run: " + literal(reason) + ".", backend=clean(name, 40)
    )


class InvalidInput(UserError, ValueError):
    """A file or value the user sent cannot be used; also a ValueError, for parsers documented to raise one.

    Only UserError text reaches users: a plain ValueError is a bug (its text is Python's, not ours).
    """


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


class NotAllowed(UserError):
    """A per-server rule refuses this request (e.g. the code backend is off here); says who can change it."""


class DownloadFailed(UserError):
    """A user's attachment could not be fetched; the message says what went wrong in plain words."""


class ShuttingDown(UserError):
    """The bot is stopping (a restart or a deploy); nothing new is accepted meanwhile."""
