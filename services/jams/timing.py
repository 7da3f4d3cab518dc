"""Where each segment of a jam sits in the joined piece, and how to say it.

Shared by the renderer (credits under the MP3) and the card (length so far), so
both always agree on the arithmetic: n segments of L seconds joined by n - 1
crossfades of c seconds last n * L - (n - 1) * c.
"""

from __future__ import annotations


def effective_crossfade_s(segment_s: float, crossfade_s: float) -> float:
    """The crossfade a seam really gets: never more than half a segment (as concat_crossfade caps it)."""
    return max(0.0, min(crossfade_s, segment_s / 2.0))


def piece_length_s(count: int, segment_s: float, crossfade_s: float) -> float:
    """Length of `count` segments joined with crossfades."""
    if count <= 0:
        return 0.0
    return count * segment_s - (count - 1) * effective_crossfade_s(segment_s, crossfade_s)


def segment_spans(count: int, segment_s: float, crossfade_s: float) -> list[tuple[float, float]]:
    """(start, end) of each segment as a listener hears it: a seam belongs to the segment coming in."""
    fade = effective_crossfade_s(segment_s, crossfade_s)
    step = segment_s - fade
    total = piece_length_s(count, segment_s, crossfade_s)
    return [(k * step, total if k == count - 1 else (k + 1) * step) for k in range(count)]


def clock(seconds: float) -> str:
    """62.4 -> '1:02' (credits and the card)."""
    whole = int(round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"
