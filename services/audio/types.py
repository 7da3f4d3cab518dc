"""The one audio type every backend returns and every audio step takes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

DEFAULT_SAMPLE_RATE = 44_100


@dataclass(frozen=True)
class Audio:
    """float32 samples shaped (channels, frames), nominally within [-1, 1]."""

    samples: npt.NDArray[np.float32]  # (channels, frames), float32
    sample_rate: int = DEFAULT_SAMPLE_RATE  # frames per second

    def __post_init__(self) -> None:
        if self.samples.ndim != 2:
            raise ValueError(f"audio must be (channels, frames), got shape {self.samples.shape}")
        if self.samples.dtype != np.float32:
            raise ValueError(f"audio must be float32, got {self.samples.dtype}")
        if self.sample_rate <= 0:
            raise ValueError("sample rate must be positive")

    @classmethod
    def from_array(cls, samples: npt.ArrayLike, sample_rate: int = DEFAULT_SAMPLE_RATE) -> Audio:
        """Accepts mono (frames,) or (channels, frames) of any float dtype."""
        arr = np.asarray(samples, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr[np.newaxis, :]
        return cls(np.ascontiguousarray(arr), sample_rate)

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def frames(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate

    def to_stereo(self) -> Audio:
        if self.channels == 2:
            return self
        if self.channels == 1:
            return Audio(np.repeat(self.samples, 2, axis=0), self.sample_rate)
        return Audio(np.ascontiguousarray(self.samples[:2]), self.sample_rate)

    def to_mono(self) -> npt.NDArray[np.float32]:
        return self.samples.mean(axis=0).astype(np.float32)
