"""Logging for the bot process: the services' redacting setup, wired with the bot's own secrets.

The machinery lives in services/logsetup.py because worker processes (services/jobs) set up the
same logging without importing bot/.
"""

from __future__ import annotations

from typing import IO

from services.logsetup import RedactingFormatter, RedactSecrets, setup_logging, setup_logging_from
from services.settings import Settings

__all__ = ["RedactSecrets", "RedactingFormatter", "setup_bot_logging", "setup_logging"]


def setup_bot_logging(settings: Settings, token: str, *, stream: IO[str] | None = None) -> None:
    """Logging for `promptjam run`: the settings' level and switches; the token and API key redacted."""
    setup_logging_from(settings, extra_secrets=[token], stream=stream)
