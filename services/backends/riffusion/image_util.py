"""Mel amplitudes ↔ riffusion spectrogram image (pixels and EXIF), nothing else.

Separate from the signal processing because the model only sees this layer: a byte-exact match with
riffusion's pixel mapping is what makes our images look like its training data.
"""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
from PIL import Image

from services.backends.riffusion.params import DEFAULT_MAX_VALUE, SpectrogramParams

FloatArray = npt.NDArray[np.float32]


def image_from_mel(mel: npt.ArrayLike, params: SpectrogramParams) -> Image.Image:
    """RGB image of mel amplitudes shaped (channels, mels, frames), with params and max in its EXIF.

    pixel = 255 − 255·(mel/max)^power, truncated to uint8, low frequencies at the bottom. One channel fills
    R, G and B; two fill G and B with R black. Silence (max 0) gives a white image with max 0 stored.
    """
    data = np.asarray(mel, dtype=np.float64)
    if data.ndim != 3 or data.shape[0] not in (1, 2):
        raise ValueError(f"mel must be (1 or 2 channels, mels, frames), got {data.shape}")
    max_value = float(data.max()) if data.size else 0.0
    scaled = np.power(data / max_value, params.power_for_image) if max_value > 0 else np.zeros_like(data)
    pixels = (255.0 - 255.0 * scaled).astype(np.uint8)[:, ::-1, :]  # truncation, then low rows at bottom
    if pixels.shape[0] == 1:
        rgb = np.repeat(pixels, 3, axis=0)
    else:
        rgb = np.stack([np.zeros_like(pixels[0]), pixels[0], pixels[1]])
    image = Image.fromarray(np.ascontiguousarray(rgb.transpose(1, 2, 0)), mode="RGB")
    image.getexif().update(params.to_exif(max_value).items())
    return image


def read_params(image: Image.Image, default: SpectrogramParams) -> tuple[SpectrogramParams, float | None]:
    """The params and max stored in the image's EXIF; `default` and None where it has none (the model's
    outputs). Decoders then scale by DEFAULT_MAX_VALUE, riffusion's 30e6."""
    exif = image.getexif()
    if not exif or not any(11000 <= int(tag) <= 11080 for tag in exif):
        return default, None
    return SpectrogramParams.from_exif(dict(exif))


def mel_from_image(
    image: Image.Image, params: SpectrogramParams, max_value: float = DEFAULT_MAX_VALUE
) -> FloatArray:
    """Mel amplitudes (channels, mels, frames) from pixels: mono reads R, stereo G and B (as riffusion)."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    pixels = np.asarray(image)[::-1, :, :]  # bottom row is the lowest mel bin
    if pixels.shape[0] != params.num_frequencies:
        raise ValueError(f"image is {pixels.shape[0]} px tall; params expect {params.num_frequencies} rows")
    chosen = pixels[:, :, 1:3] if params.stereo else pixels[:, :, 0:1]
    data = (255.0 - chosen.transpose(2, 0, 1).astype(np.float32)) / 255.0
    return (np.power(data, 1.0 / params.power_for_image) * max_value).astype(np.float32)


def png_bytes(image: Image.Image) -> bytes:
    """PNG with the EXIF kept (Pillow drops it unless it is passed explicitly)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", exif=image.getexif())
    return buffer.getvalue()
