"""The spectrogram convention riffusion-model-v1 was trained on, and its EXIF form.

The model only ever saw images made with one set of numbers (44.1 kHz, 10 ms hop, 100 ms Hann window padded
to 400 ms, 512 HTK mel bins from 0 to 10 kHz, a 0.25 power curve). Those numbers live here, in one frozen
object, so that encoding and decoding can never drift apart, and so an image can carry them in its EXIF tags
(the same tag numbers riffusion uses: 11000–11080) and be decoded later without guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

DEFAULT_MAX_VALUE = 30e6  # the scale riffusion assumes for images without a stored max (the model's outputs)


class ExifTag(IntEnum):
    """EXIF tag numbers, identical to riffusion's so images are interchangeable with its tools."""

    SAMPLE_RATE = 11000
    STEREO = 11005
    TRIPLE_RES_MONO = 11007
    STEP_SIZE_MS = 11010
    WINDOW_DURATION_MS = 11020
    PADDED_DURATION_MS = 11030
    NUM_FREQUENCIES = 11040
    MIN_FREQUENCY = 11050
    MAX_FREQUENCY = 11060
    POWER_FOR_IMAGE = 11070
    MAX_VALUE = 11080


@dataclass(frozen=True)
class SpectrogramParams:
    """How audio becomes a mel spectrogram image; defaults are riffusion-model-v1's."""

    stereo: bool = False  # two channels drawn into G and B (R left black); mono uses all three equally
    sample_rate: int = 44_100  # audio frames per second the image's time axis assumes
    step_size_ms: int = 10  # hop between STFT frames: one image column per step
    window_duration_ms: int = 100  # Hann window length inside each STFT frame
    padded_duration_ms: int = 400  # FFT length (window zero-padded, centred): sets the 2.5 Hz bin spacing
    num_frequencies: int = 512  # mel bins, which is the image height in pixels
    min_frequency: int = 0  # lowest mel filter edge in Hz (bottom row of the image)
    max_frequency: int = 10_000  # highest mel filter edge in Hz (top row of the image)
    power_for_image: float = 0.25  # pixel = 255 - 255 * (mel / max) ** power: lifts quiet detail into view

    def __post_init__(self) -> None:
        if self.sample_rate <= 0 or self.step_size_ms <= 0 or self.window_duration_ms <= 0:
            raise ValueError("sample rate, step and window must be positive")
        if self.padded_duration_ms < self.window_duration_ms:
            raise ValueError("the padded FFT length cannot be shorter than the window")
        if self.num_frequencies <= 0 or not 0 <= self.min_frequency < self.max_frequency:
            raise ValueError("need at least one mel bin and 0 <= min_frequency < max_frequency")
        if self.max_frequency > self.sample_rate / 2:
            raise ValueError("max_frequency cannot exceed the Nyquist frequency")
        if self.power_for_image <= 0:
            raise ValueError("power_for_image must be positive")

    @property
    def n_fft(self) -> int:
        """FFT length in samples (window plus zero padding)."""
        return int(self.padded_duration_ms / 1000.0 * self.sample_rate)

    @property
    def win_length(self) -> int:
        """Hann window length in samples."""
        return int(self.window_duration_ms / 1000.0 * self.sample_rate)

    @property
    def hop_length(self) -> int:
        """Samples between frame centres (one image column)."""
        return int(self.step_size_ms / 1000.0 * self.sample_rate)

    @property
    def channels(self) -> int:
        return 2 if self.stereo else 1

    def width_for_frames(self, frames: int) -> int:
        """Image width for `frames` audio samples (centred STFT: one column per hop plus one)."""
        return 1 + frames // self.hop_length

    def frames_for_width(self, width: int) -> int:
        """Audio samples an image `width` columns wide decodes to (512 columns: 5.11 s)."""
        return self.hop_length * (width - 1)

    def to_exif(self, max_value: float | None = None) -> dict[int, Any]:
        """Tag → value, as riffusion writes them (plus the spectrogram's max when known)."""
        tags: dict[int, Any] = {
            ExifTag.SAMPLE_RATE: self.sample_rate,
            ExifTag.STEREO: int(self.stereo),
            ExifTag.TRIPLE_RES_MONO: 0,
            ExifTag.STEP_SIZE_MS: self.step_size_ms,
            ExifTag.WINDOW_DURATION_MS: self.window_duration_ms,
            ExifTag.PADDED_DURATION_MS: self.padded_duration_ms,
            ExifTag.NUM_FREQUENCIES: self.num_frequencies,
            ExifTag.MIN_FREQUENCY: self.min_frequency,
            ExifTag.MAX_FREQUENCY: self.max_frequency,
            ExifTag.POWER_FOR_IMAGE: float(self.power_for_image),
        }
        if max_value is not None:
            tags[ExifTag.MAX_VALUE] = float(max_value)
        return {int(k): v for k, v in tags.items()}

    @classmethod
    def from_exif(cls, exif: Mapping[int, Any]) -> tuple[SpectrogramParams, float | None]:
        """Params and stored max from EXIF tags; missing tags take the defaults (riffusion used 0s, which
        cannot decode anything). Raises ValueError for riffusion's triple-resolution mono layout, which
        no public model uses and this codec does not implement."""
        if bool(exif.get(ExifTag.TRIPLE_RES_MONO, 0)):
            raise ValueError("triple-resolution mono spectrograms are not supported")
        base = cls()

        def num(tag: ExifTag, default: float) -> float:
            value = exif.get(int(tag))
            return default if value is None else float(value)

        params = cls(
            stereo=bool(exif.get(int(ExifTag.STEREO), base.stereo)),
            sample_rate=int(num(ExifTag.SAMPLE_RATE, base.sample_rate)),
            step_size_ms=int(num(ExifTag.STEP_SIZE_MS, base.step_size_ms)),
            window_duration_ms=int(num(ExifTag.WINDOW_DURATION_MS, base.window_duration_ms)),
            padded_duration_ms=int(num(ExifTag.PADDED_DURATION_MS, base.padded_duration_ms)),
            num_frequencies=int(num(ExifTag.NUM_FREQUENCIES, base.num_frequencies)),
            min_frequency=int(num(ExifTag.MIN_FREQUENCY, base.min_frequency)),
            max_frequency=int(num(ExifTag.MAX_FREQUENCY, base.max_frequency)),
            power_for_image=num(ExifTag.POWER_FOR_IMAGE, base.power_for_image),
        )
        max_value = exif.get(int(ExifTag.MAX_VALUE))
        return params, (None if max_value is None else float(max_value))
