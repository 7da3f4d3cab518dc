"""Helpers for tests that watch real processes (the bot, its workers, sandboxes) come and go."""

from __future__ import annotations

import psutil


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running (a zombie waiting to be reaped counts as gone); pid reuse is ruled out."""
    still = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                still.append(p)
        except psutil.NoSuchProcess:
            pass
    return still
