"""The jam's timeline picture: the spectrogram with each segment tinted by its author's colour.

Built on the ordinary preview (services/audio/preview.py) so it reads like every other
result picture, plus a lane underneath naming who wrote each stretch.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from services.audio.preview import render_preview
from services.audio.types import Audio

# Distinct, readable on the dark preview; authors get them in order of first appearance.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (255, 99, 132),
    (54, 162, 235),
    (255, 206, 86),
    (75, 192, 120),
    (153, 102, 255),
    (255, 159, 64),
    (0, 200, 200),
    (230, 120, 200),
)
_TITLE_H = 24
_LANE_H = 30
_AXIS_H = 20  # the preview's time axis at its bottom: left untinted so it stays readable
_TINT_ALPHA = 70  # of 255


@dataclass(frozen=True)
class TimelineSegment:
    """One stretch of the piece for the picture."""

    start_s: float  # where it starts being heard
    end_s: float  # where the next one takes over
    author_id: int  # decides the colour
    label: str  # "#3 alice"


def author_colours(author_ids: Sequence[int]) -> dict[int, tuple[int, int, int]]:
    """A colour per author, in order of first appearance (cycling when there are many)."""
    colours: dict[int, tuple[int, int, int]] = {}
    for author in author_ids:
        if author not in colours:
            colours[author] = PALETTE[len(colours) % len(PALETTE)]
    return colours


def render_timeline(
    audio: Audio, segments: Sequence[TimelineSegment], *, title: str, width: int = 960, height: int = 300
) -> bytes:
    """PNG: title, spectrogram tinted per segment with boundaries, and a lane of author labels."""
    base = Image.open(io.BytesIO(render_preview(audio, width=width, height=height))).convert("RGBA")
    total = max(audio.duration, 1e-9)
    colours = author_colours([s.author_id for s in segments])

    def x_of(seconds: float) -> int:
        return max(0, min(width, round(seconds / total * width)))

    tint = Image.new("RGBA", base.size, (0, 0, 0, 0))
    tint_draw = ImageDraw.Draw(tint)
    for seg in segments:
        r, g, b = colours[seg.author_id]
        tint_draw.rectangle(
            (x_of(seg.start_s), 0, x_of(seg.end_s) - 1, height - _AXIS_H - 1), fill=(r, g, b, _TINT_ALPHA)
        )
    for seg in segments[1:]:
        x = x_of(seg.start_s)
        tint_draw.line((x, 0, x, height - _AXIS_H - 1), fill=(255, 255, 255, 200), width=1)
    tinted = Image.alpha_composite(base, tint).convert("RGB")

    canvas = Image.new("RGB", (width, _TITLE_H + height + _LANE_H), (22, 22, 30))
    canvas.paste(tinted, (0, _TITLE_H))
    draw = ImageDraw.Draw(canvas)
    font = _font(13)
    draw.text((6, 4), _fit(draw, _printable(title), font, width - 12), fill=(220, 220, 230), font=font)
    lane_top = _TITLE_H + height
    for seg in segments:
        x0, x1 = x_of(seg.start_s), x_of(seg.end_s)
        draw.rectangle(
            (x0, lane_top + 2, max(x0, x1 - 2), lane_top + _LANE_H - 3), fill=colours[seg.author_id]
        )
        text = _fit(draw, _printable(seg.label), font, x1 - x0 - 8)
        if text:
            draw.text((x0 + 4, lane_top + 7), text, fill=(15, 15, 20), font=font)
    out = io.BytesIO()
    canvas.save(out, format="PNG", compress_level=6)
    return out.getvalue()


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType
        return ImageFont.load_default()


def _printable(text: str) -> str:
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def _fit(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, room: float
) -> str:
    """The text, cut with an ellipsis to `room` pixels ('' when not even that fits)."""
    if room <= 0:
        return ""
    if draw.textlength(text, font=font) <= room:
        return text
    while text and draw.textlength(text + "…", font=font) > room:
        text = text[:-1]
    return text + "…" if text else ""
