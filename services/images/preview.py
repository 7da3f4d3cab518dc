"""The reply's picture: the user's image beside the spectrogram of the music it became.

Why one PNG: a Discord embed shows one image, and seeing the picture next to its sound is the point.
"""

from __future__ import annotations

import io

from PIL import Image

from services.audio.preview import BACKGROUND, render_preview
from services.audio.types import Audio

GAP = 8  # pixels between the picture and the spectrogram
MIN_SPECTROGRAM_WIDTH = 320  # the spectrogram never gets narrower than this, however wide the picture


def image_preview(
    image: Image.Image, audio: Audio, *, title: str | None = None, width: int = 960, height: int = 360
) -> bytes:
    """PNG `width` × `height`: the picture fitted into the left part (at most 40 % of the width), the
    spectrogram preview of `audio` (services.audio.preview) in the rest."""
    if height < 120 or width < MIN_SPECTROGRAM_WIDTH + GAP + 64:
        raise ValueError(f"preview must be at least {MIN_SPECTROGRAM_WIDTH + GAP + 64} x 120 pixels")
    picture = image.convert("RGB")
    box_w = min(int(width * 0.4), width - GAP - MIN_SPECTROGRAM_WIDTH)
    scale = min(box_w / picture.width, height / picture.height)
    fitted = picture.resize(
        (max(1, round(picture.width * scale)), max(1, round(picture.height * scale))),
        Image.Resampling.LANCZOS,
    )
    left_w = fitted.width
    spectrogram_png = render_preview(audio, title=title, width=width - left_w - GAP, height=height)
    with Image.open(io.BytesIO(spectrogram_png)) as opened:
        spectrogram = opened.convert("RGB")
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    canvas.paste(fitted, (0, (height - fitted.height) // 2))
    canvas.paste(spectrogram, (left_w + GAP, 0))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()
