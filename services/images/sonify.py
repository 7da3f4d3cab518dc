"""Hear the picture itself: read it as a riffusion spectrogram (height is pitch, brightness is loudness).

Why through the codec: it is the same mel layout riffusion draws in (512 rows, 0–10 kHz, 10 ms a column),
so a picture sounds the way riffusion would play it, with no model and no weights.

The codec's images store 255 − 255·(mel/max)^0.25, so white is silence and black is loudest. A user
expects the opposite of a photo ("the bright moon should ring out"), so the picture is inverted first:
a black picture is silence and a white line is a loud tone. The level is fixed, not normalised, so a dark
picture stays quiet instead of being blown up to full scale.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from services.audio.types import Audio
from services.backends.riffusion.codec import SpectrogramCodec
from services.backends.riffusion.params import SpectrogramParams

FULL_SCALE_MEL = 1.2e7  # mel amplitude of a white pixel: a 6-row white line decodes to a tone peaking ~0.3
PEAK_LIMIT = 0.95  # louder results (big white areas) are scaled down to this peak, never up
DEFAULT_MAX_SECONDS = 20.0  # longest sound a very wide picture becomes
MIN_COLUMNS = 32  # narrowest spectrogram (~0.3 s), so a tall thin picture still makes a sound


def columns_for(size: tuple[int, int], params: SpectrogramParams, max_seconds: float) -> int:
    """Spectrogram width for a picture: its aspect ratio at the codec's height, capped by `max_seconds`."""
    width, height = size
    by_aspect = round(width * params.num_frequencies / max(height, 1))
    cap = params.width_for_frames(int(max_seconds * params.sample_rate))
    return int(min(max(by_aspect, MIN_COLUMNS), max(cap, MIN_COLUMNS)))


def spectrogram_image(
    image: Image.Image,
    *,
    params: SpectrogramParams | None = None,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    columns: int | None = None,
) -> Image.Image:
    """The picture as a codec image: grey, inverted (bright → loud), R=G=B, `num_frequencies` rows tall.

    Also what riffusion's img2img wants as an init image. Carries the params and FULL_SCALE_MEL in EXIF,
    so the codec decodes it at a fixed level.
    """
    p = params or SpectrogramParams()
    width = columns if columns is not None else columns_for(image.size, p, max_seconds)
    grey = image.convert("L").resize((width, p.num_frequencies), Image.Resampling.LANCZOS)
    inverted = Image.eval(grey, lambda value: 255 - value)
    rgb = Image.merge("RGB", (inverted, inverted, inverted))
    rgb.getexif().update(p.to_exif(FULL_SCALE_MEL).items())
    return rgb


def sonify(
    image: Image.Image,
    *,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    codec: SpectrogramCodec | None = None,
) -> Audio:
    """The picture heard as a spectrogram: mono float32 at the codec's rate. CPU only; blocking.

    Length follows the width (one column every 10 ms at the codec's 512-row height), capped by max_seconds.
    """
    if max_seconds <= 0:
        raise ValueError("max_seconds must be positive")
    decoder = codec or SpectrogramCodec()
    picture = spectrogram_image(image, params=decoder.params, max_seconds=max_seconds)
    audio = decoder.image_to_audio(picture, normalize=False)
    peak = float(np.abs(audio.samples).max()) if audio.frames else 0.0
    if peak > PEAK_LIMIT:
        return Audio(np.ascontiguousarray(audio.samples * np.float32(PEAK_LIMIT / peak)), audio.sample_rate)
    return audio
