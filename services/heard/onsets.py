"""An onset-strength envelope: how much new sound starts in each 5.8 ms frame (spectral flux).

Plain numpy/scipy on purpose: librosa's first call in a process costs seconds of numba start-up, which
a `promptjam make` pays every run; this costs a few milliseconds per minute of audio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import signal

from services.audio.types import Audio

RATE = 22_050  # analysis rate: onsets below 5 kHz, and cymbals and hats up to 11 kHz for the drums check
N_FFT = 1024  # 21.5 Hz bins
HOP = 256  # 86 frames a second; the comb over the whole piece refines the tempo to 0.01 bpm


@dataclass(frozen=True)
class Spectrum:
    """The mono mix's magnitude spectrogram at the analysis rate, shared by every measurement."""

    magnitude: npt.NDArray[np.float32]  # (bins, frames)
    frame_rate: float  # frames per second
    mono: npt.NDArray[np.float32]  # the mono mix at RATE


def spectrum(audio: Audio) -> Spectrum:
    mono = audio.to_mono().astype(np.float64)
    if audio.sample_rate != RATE and mono.size:
        g = np.gcd(RATE, audio.sample_rate)
        mono = signal.resample_poly(mono, RATE // g, audio.sample_rate // g)
    if mono.size < N_FFT:
        mono = np.pad(mono, (0, N_FFT - mono.size))
    frames = np.lib.stride_tricks.sliding_window_view(mono, N_FFT)[::HOP]
    window = np.hanning(N_FFT).astype(np.float32)
    mag = np.abs(np.fft.rfft(frames.astype(np.float32) * window, axis=1)).T.astype(np.float32)
    return Spectrum(mag, RATE / HOP, mono.astype(np.float32))


def onset_envelope(
    spec: Spectrum, *, low_hz: float = 30.0, high_hz: float = 5000.0
) -> npt.NDArray[np.float64]:
    """Half-wave-rectified log spectral flux in [low_hz, high_hz], its slow trend removed, peak 1."""
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / RATE)
    band = (freqs >= low_hz) & (freqs <= high_hz)
    log_mag = np.log1p(100.0 * spec.magnitude[band].astype(np.float64))
    flux = np.maximum(0.0, np.diff(log_mag, axis=1)).sum(axis=0)
    flux = np.concatenate([[0.0], flux])
    width = max(1, int(0.4 * spec.frame_rate))
    trend = np.convolve(flux, np.ones(width) / width, mode="same")
    env = np.maximum(0.0, flux - trend)
    peak = float(env.max()) if env.size else 0.0
    return env / peak if peak > 0 else env
