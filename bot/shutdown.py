"""SIGTERM and SIGINT stop the bot cleanly: the first starts a graceful stop, the second cuts the grace
short, a third exits at once.

Why: container runtimes stop a container with SIGTERM and kill it 10 s later. Without a handler
SIGTERM is a crash: no gateway close, deliveries cut off mid-upload, worker processes orphaned.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from contextlib import suppress

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignals:
    """Turns stop signals into events the runner awaits: `requested` (stop), then `hurry` (stop now)."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.hurry = asyncio.Event()
        self.received: list[int] = []

    def install(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Handle the stop signals on `loop`; False where the platform cannot (Ctrl+C then raises)."""
        try:
            for sig in STOP_SIGNALS:
                loop.add_signal_handler(sig, self.on_signal, int(sig))
        except (NotImplementedError, RuntimeError):
            return False
        return True

    def remove(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in STOP_SIGNALS:
            with suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)

    def on_signal(self, signum: int) -> None:
        self.received.append(signum)
        name = signal.Signals(signum).name
        if len(self.received) == 1:
            log.info("%s: shutting down (running jobs may finish, the rest resume at the next start)", name)
            self.requested.set()
        elif len(self.received) == 2:
            log.warning("%s again: stopping now, running jobs resume at the next start", name)
            self.hurry.set()
        else:
            log.error("%s a third time: exiting at once", name)
            os._exit(128 + signum)
