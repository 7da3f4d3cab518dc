"""What a worker does with one job: its kind's handler makes the music, the shared step finishes it.

This runs in a worker thread or process, never on the event loop. Everything
heavy for a job happens here — generation, loudness, MP3 encoding, the preview —
so the bot's loop only ever moves small messages and file paths.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from services.backends.abilities import Warms
from services.backends.base import ProgressFn
from services.backends.registry import get_backend
from services.jobs.finish import finish
from services.jobs.kinds import HANDLERS
from services.jobs.models import MusicRequest, MusicResult
from services.settings import Settings


def run_job(job_id: str, request: MusicRequest, settings: Settings, progress: ProgressFn) -> MusicResult:
    """Make the music for `request` and write MP3, preview PNG and MIDI under the results folder."""
    started = time.perf_counter()
    piece = HANDLERS[request.kind](request, settings, progress)
    return finish(job_id, piece, request, settings, progress, started=started)


def warm_backends(settings: Settings, names: list[str], log: Callable[[str], None] | None = None) -> None:
    """Load models of the given backends in this process (worker start), so first jobs are fast."""
    for name in names:
        try:
            backend = get_backend(name, settings)
        except KeyError:
            continue
        if isinstance(backend, Warms):
            try:
                backend.warm()
            except Exception as exc:  # warming is an optimisation; the job will report the real error
                if log:
                    log(f"warming {name} failed: {exc}")
