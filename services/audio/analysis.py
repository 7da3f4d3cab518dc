"""Small measurements of rendered audio: loudness and which pitch classes it contains.

Tests and benches use these to check what was heard, not what was asked for:
that a score restricted to five pitch classes really sounds like them, that a
render is not silent. Plain numpy; no audio-analysis dependency.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from services.audio.types import Audio

SILENCE_DB = -120.0  # what rms_db reports for digital silence instead of minus infinity


def rms_db(audio: Audio) -> float:
    """Root-mean-square level over all channels, in dBFS (a full-scale sine is about -3 dB)."""
    if audio.samples.size == 0:
        return SILENCE_DB
    rms = float(np.sqrt(np.mean(np.square(audio.samples, dtype=np.float64))))
    return max(SILENCE_DB, 20.0 * np.log10(rms)) if rms > 0 else SILENCE_DB


@lru_cache(maxsize=16)
def _bin_classes(n_fft: int, sample_rate: int, fmin: float, fmax: float) -> tuple[npt.NDArray[np.intp], ...]:
    """FFT bin indices that fall in [fmin, fmax] and the pitch class each one is nearest to."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    keep = np.flatnonzero((freqs >= fmin) & (freqs <= fmax))
    midi = 69.0 + 12.0 * np.log2(freqs[keep] / 440.0)
    classes = np.mod(np.rint(midi).astype(np.intp), 12)
    return keep, classes


def chroma_profile(
    audio: Audio, *, fmin: float = 60.0, fmax: float = 2000.0, n_fft: int = 16384, hop: int = 4096
) -> npt.NDArray[np.float64]:
    """Energy per pitch class (index 0 = C … 11 = B), summing to 1; all zeros for silence.

    A long window (16384 samples, 2.7 Hz bins at 44.1 kHz) separates semitones
    down to about 60 Hz; the power spectrum is averaged over Hann-windowed
    frames of the mono mix and each bin goes to its nearest equal-tempered pitch.
    """
    if fmin <= 0 or fmax <= fmin:
        raise ValueError("need 0 < fmin < fmax")
    mono = audio.to_mono().astype(np.float64)
    if mono.size < n_fft:
        mono = np.pad(mono, (0, n_fft - mono.size))
    count = 1 + (mono.size - n_fft) // hop
    frames = np.lib.stride_tricks.sliding_window_view(mono, n_fft)[::hop][:count]
    window = np.hanning(n_fft)
    power = np.zeros(n_fft // 2 + 1)
    for start in range(0, count, 64):  # chunks bound the memory of the FFT batch
        spectrum = np.fft.rfft(frames[start : start + 64] * window, axis=1)
        power += np.sum(spectrum.real**2 + spectrum.imag**2, axis=0)
    keep, classes = _bin_classes(n_fft, audio.sample_rate, float(fmin), float(fmax))
    chroma = np.bincount(classes, weights=power[keep], minlength=12)
    total = float(chroma.sum())
    return chroma / total if total > 0 else np.zeros(12)


def pitch_class_energy_outside(
    audio: Audio, allowed: Iterable[int], *, fmin: float = 60.0, fmax: float = 2000.0
) -> float:
    """Fraction (0–1) of the chroma energy in pitch classes not in `allowed`."""
    chroma = chroma_profile(audio, fmin=fmin, fmax=fmax)
    if chroma.sum() <= 0:
        return 0.0
    inside = sorted({pc % 12 for pc in allowed})
    return float(max(0.0, 1.0 - chroma[inside].sum()))
