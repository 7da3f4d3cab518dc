"""Riffusion: Stable Diffusion on spectrogram images. This package holds the spectrogram codec so far."""

from services.backends.riffusion.codec import SpectrogramCodec, mel_filterbank
from services.backends.riffusion.image_util import image_from_mel, mel_from_image, png_bytes, read_params
from services.backends.riffusion.params import DEFAULT_MAX_VALUE, ExifTag, SpectrogramParams

__all__ = [
    "DEFAULT_MAX_VALUE",
    "ExifTag",
    "SpectrogramCodec",
    "SpectrogramParams",
    "image_from_mel",
    "mel_filterbank",
    "mel_from_image",
    "png_bytes",
    "read_params",
]
