"""An onset-strength envelope: how much new sound starts in each 11.6 ms frame (spectral flux).

Plain numpy/scipy on purpose: librosa's first call in a process costs seconds of numba start-up, which
a `promptjam make` pays every run; this costs a few milliseconds per minute of audio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.fft
from scipy import signal

from services.audio.types import Audio

RATE = 22_050  # analysis rate: onsets below 5 kHz, and cymbals and hats up to 11 kHz for the drums check
N_FFT = 1024  # 21.5 Hz bins
HOP = 256  # 86 frames a second; the comb over the whole piece refines the tempo to 0.01 bpm
# the least log-flux per bin the strongest onset must have: music's softest (an ambient pad at -40 LUFS)
# has 0.1, a held sine's ripple between frames 0.01
MIN_ONSET_FLUX = 0.03


@dataclass(frozen=True)
class Spectrum:
    """The mono mix's magnitude spectrogram at the analysis rate, shared by every measurement."""

    magnitude: npt.NDArray[np.float32]  # (bins, frames)
    frame_rate: float  # frames per second
    mono: npt.NDArray[np.float32]  # the mono mix at RATE


def spectrum(audio: Audio) -> Spectrum:
    mono = audio.to_mono().astype(np.float32)
    if audio.sample_rate != RATE and mono.size:
        g = np.gcd(RATE, audio.sample_rate)
        mono = signal.resample_poly(mono, RATE // g, audio.sample_rate // g).astype(np.float32)
    if mono.size < N_FFT:
        mono = np.pad(mono, (0, N_FFT - mono.size))
    frames = np.lib.stride_tricks.sliding_window_view(mono, N_FFT)[::HOP]
    window = np.hanning(N_FFT).astype(np.float32)
    # scipy's FFT stays in float32 (numpy's computes in float64): half the time, precision to spare
    mag = np.abs(scipy.fft.rfft(frames * window, axis=1)).T.astype(np.float32)
    return Spectrum(mag, RATE / HOP, mono)


def onset_envelope(
    spec: Spectrum, *, low_hz: float = 30.0, high_hz: float = 5000.0
) -> npt.NDArray[np.float64]:
    """Half-wave-rectified log spectral flux in [low_hz, high_hz], its slow trend removed, peak 1; all zero
    when nothing starts at all (a held tone's frame-to-frame ripple is not a pulse)."""
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / RATE)
    band = (freqs >= low_hz) & (freqs <= high_hz)
    log_mag = np.log1p(100.0 * spec.magnitude[band].astype(np.float64))
    flux = np.maximum(0.0, np.diff(log_mag, axis=1)).sum(axis=0)
    flux = np.concatenate([[0.0], flux])
    width = max(1, int(0.4 * spec.frame_rate))
    trend = np.convolve(flux, np.ones(width) / width, mode="same")
    env = np.maximum(0.0, flux - trend)
    peak = float(env.max()) if env.size else 0.0
    if peak < MIN_ONSET_FLUX * max(1, int(band.sum())):
        return np.zeros_like(env)
    return env / peak
