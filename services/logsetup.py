"""Logging for the bot, its worker processes and the command line: one format, secrets never printed.

Redaction sits in three places, so no route around it is left:
- a log record factory redacts every record as it is made (message, traceback, stack), so a handler
  added later anywhere, with any formatter, only ever sees redacted text;
- the root handler carries the same redaction as a filter;
- its formatter redacts the final line once more (whatever a format adds) and caps over-long lines.
Libraries that log parameters stay at INFO even with LOG_LEVEL=DEBUG unless LOG_DEBUG_LIBRARIES
names them: aiosqlite logs every statement with its values (interaction tokens included),
discord.http every URL (webhook URLs hold interaction tokens), discord.gateway every event (with
whatever users typed).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import IO, Any

from services.redaction import Redactor
from services.settings import Settings

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
CHATTY_LOGGERS = (
    "aiosqlite",
    "discord",
    "aiohttp",
    "asyncio",
    "websockets",
    "httpx",
    "httpcore",
    "openai",
    "urllib3",
    "PIL",
)
DEFAULT_MAX_LINE_CHARS = 1000

# The redactor the record factory uses; setup_logging replaces it with one that knows the secrets.
_current = Redactor()


def redact_record(record: logging.LogRecord, redactor: Redactor) -> None:
    """Redact a record in place: its message (args merged in), its traceback and its stack."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: the handler reports it (and the formatter still redacts)
        message = None
    if message is not None:
        clean = redactor(message)
        if clean != message:
            record.msg, record.args = clean, ()
    if record.exc_info and not record.exc_text:
        # Formatter.format uses this cached text instead of formatting the exception again.
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redactor(record.exc_text)
    if record.stack_info:
        record.stack_info = redactor(record.stack_info)


class RedactSecrets(logging.Filter):
    """Masks configured secrets and anything shaped like a token in a log record."""

    def __init__(self, secrets: Iterable[str | None] | None = None, *, redactor: Redactor | None = None):
        super().__init__()
        self.redactor = redactor or Redactor(secrets or ())

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record, self.redactor)
        return True


class RedactingFormatter(logging.Formatter):
    """The app's one format; redacts the finished text and cuts any line longer than `max_line_chars`."""

    def __init__(self, redactor: Redactor, *, max_line_chars: int = DEFAULT_MAX_LINE_CHARS) -> None:
        super().__init__(FORMAT)
        self.redactor = redactor
        self.max_line_chars = max_line_chars

    def format(self, record: logging.LogRecord) -> str:
        text = self.redactor(super().format(record))
        limit = self.max_line_chars
        if all(len(line) <= limit for line in text.split("\n")):
            return text
        return "\n".join(
            line if len(line) <= limit else f"{line[:limit]}… [{len(line) - limit:,} more chars]"
            for line in text.split("\n")
        )


def _install_record_factory() -> None:
    base = logging.getLogRecordFactory()
    if getattr(base, "promptjam_redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        redact_record(record, _current)
        return record

    factory.promptjam_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def setup_logging(
    level: str = "INFO",
    secrets: Iterable[str | None] | None = None,
    *,
    stream: IO[str] | None = None,
    debug_libraries: Iterable[str] = (),
    max_line_chars: int = DEFAULT_MAX_LINE_CHARS,
) -> logging.Handler:
    """Route every logger to one redacting handler on `stream` (stderr); returns that handler."""
    global _current
    redactor = Redactor(secrets or ())
    _current = redactor
    _install_record_factory()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(RedactingFormatter(redactor, max_line_chars=max_line_chars))
    handler.addFilter(RedactSecrets(redactor=redactor))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    numeric = logging.getLevelName(level)
    quiet = max(logging.INFO, numeric if isinstance(numeric, int) else logging.INFO)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
    for name in debug_libraries:  # asked for explicitly: log at LOG_LEVEL (still redacted and capped)
        logging.getLogger(name).setLevel(level)
    return handler


def settings_secrets(settings: Settings) -> list[str]:
    """The secret values the settings hold, for the redactor."""
    found = []
    for value in (settings.discord_token, settings.openai_api_key):
        if value is not None and value.get_secret_value().strip():
            found.append(value.get_secret_value().strip())
    if settings.redis_url is not None:  # the whole URL, and its password on its own (it may be echoed alone)
        from urllib.parse import urlsplit

        url = settings.redis_url.get_secret_value().strip()
        found.append(url)
        password = urlsplit(url).password
        if password:
            found.append(password)
    return found


def setup_logging_from(
    settings: Settings, *, extra_secrets: Iterable[str] = (), stream: IO[str] | None = None
) -> logging.Handler:
    """setup_logging with the level, secrets and library switches the settings give."""
    return setup_logging(
        settings.log_level,
        [*settings_secrets(settings), *extra_secrets],
        stream=stream,
        debug_libraries=settings.log_debug_libraries,
        max_line_chars=settings.log_max_line_chars,
    )
