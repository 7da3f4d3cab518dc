"""Time ranges in a song (Repaint's "from 0:30 to 0:45"), checked before a job is queued: light, no torch."""

from __future__ import annotations

import re

from services.errors import UserError

MIN_REPAINT_S = 1.0


def clock(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def parse_time(text: str) -> float:
    """'45', '45.5', '0:45', '1:02:03' → seconds; UserError otherwise."""
    value = text.strip()
    match = re.fullmatch(r"(?:([0-9]{1,2}):)?(?:([0-9]{1,3}):)?([0-9]{1,5}(?:\.[0-9]{1,3})?)", value)
    if not match:
        raise UserError(
            "I can't read {time} as a time; write seconds (45) or minutes:seconds (0:45).", time=value[:20]
        )
    hours, minutes, seconds = match.groups()
    if hours is not None and minutes is None:  # "m:ss"
        hours, minutes = None, hours
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds)


def check_range(start: float | None, end: float | None, length: float) -> tuple[float, float]:
    """A repaint range inside a song of `length` seconds, at least MIN_REPAINT_S long, or a UserError."""
    if start is None or end is None:
        raise UserError("Say which part to repaint: a start and an end time, such as 0:30 and 0:45.")
    if start < 0 or end <= start:
        raise UserError("The part to repaint must start before it ends (for example 0:30 to 0:45).")
    if start >= length - 0.05:
        raise UserError(f"The song is only {clock(length)} long, so a repaint can't start at {clock(start)}.")
    end = min(end, length)
    if end - start < MIN_REPAINT_S:
        raise UserError(f"The part to repaint must be at least {MIN_REPAINT_S:.0f} s long.")
    return float(start), float(end)
