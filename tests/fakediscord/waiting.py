"""Waiting for the bot to do something, without polling loops in tests.

Every change to the fake's state calls `Changes.notify()`; a waiter re-checks its probe after each change and
returns as soon as the probe finds what it wants, or raises a TimeoutError that says what it was waiting for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Changes:
    """A broadcast 'something changed' signal that any number of coroutines can wait on."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_until(
        self,
        probe: Callable[[], T | None],
        timeout: float,
        describe: Callable[[], str],
    ) -> T:
        """Return probe()'s first non-None result; raise TimeoutError (with describe()) after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            event = self._event
            found = probe()
            if found is not None:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout}s waiting for {describe()}")
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                continue
